import gzip
import json

import pytest
from pydantic import ValidationError

from sync.protocol import STREAMS, ConfigRejected, ConfigVersion, StoreReport, SyncAck, SyncBatch
from tests.hubfixtures import (
    T0,
    access,
    alarm,
    alarm_event,
    batch,
    meter_event,
    reading,
    rollup,
)


def full_batch() -> SyncBatch:
    return batch(
        readings=[reading(1)],
        access_events=[access(1)],
        alarm_events=[alarm_event(1, alarm())],
        meter_events=[meter_event(1), meter_event(2, T0 + 60, "gap", 5030.0, previous=None)],
        rollups=[rollup(1, replaces=(1, 80))],
    ).model_copy(update={"store": StoreReport(size=10, max_size=20, thinned={"rolled_up": 79})})


def test_a_batch_survives_the_wire() -> None:
    sent = full_batch()
    body = gzip.compress(sent.model_dump_json().encode())
    assert SyncBatch.model_validate_json(gzip.decompress(body)) == sent


def test_every_stream_is_a_chunk_of_the_batch() -> None:
    assert tuple(full_batch().chunks()) == STREAMS


def test_an_older_agents_batch_has_no_meter_events() -> None:
    old = {"site": "clinic", "sent_at": T0, "readings": {"after": 0, "through": 0, "items": []}}
    parsed = SyncBatch.model_validate_json(json.dumps(old))
    assert (parsed.meter_events, parsed.chunks()["meter_events"]) == (None, None)


def test_a_batch_from_before_bounded_stores_has_no_rollups_and_no_store_report() -> None:
    old = {"site": "clinic", "sent_at": T0, "readings": {"after": 0, "through": 0, "items": []}}
    parsed = SyncBatch.model_validate_json(json.dumps(old))
    assert (parsed.rollups, parsed.chunks()["rollups"], parsed.store) == (None, None, None)


@pytest.mark.parametrize(
    "change", [{"count": 0}, {"replaces": (-1, 3)}, {"sum": "lots"}, {"last_ts": None}]
)
def test_a_rollup_that_cannot_be_is_refused(change: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        rollup(1, **change)  # type: ignore[arg-type]


def test_a_meter_event_on_the_wire() -> None:
    sent = batch(meter_events=[meter_event(7, value=12.0, previous=None)], after=6)
    assert json.loads(sent.model_dump_json())["meter_events"] == {
        "after": 6,
        "through": 7,
        "items": [
            {
                "seq": 7,
                "device": "main-meter",
                "metric": "energy",
                "ts": T0,
                "kind": "reset",
                "value": 12.0,
                "previous": None,
            }
        ],
    }


def test_a_kind_this_side_does_not_know_is_still_taken() -> None:
    assert meter_event(1, kind="tamper").kind == "tamper"


@pytest.mark.parametrize("kind", ["", "x" * 21])
def test_a_kind_must_fit_the_hub_column(kind: str) -> None:
    with pytest.raises(ValidationError, match="kind"):
        meter_event(1, kind=kind)


def test_the_configuration_report_and_version_survive_the_wire() -> None:
    sent = full_batch().model_copy(
        update={
            "config_version": 3,
            "config_rejected": ConfigRejected(version=4, reason="rules[0].device: unknown"),
        }
    )
    version = ConfigVersion(version=4, format="yaml", text="devices: []\n", by="root", at=T0)
    ack = SyncAck(acked={}, server_time=T0, config=version)
    assert SyncBatch.model_validate_json(sent.model_dump_json()) == sent
    assert SyncAck.model_validate_json(ack.model_dump_json()) == ack


def test_an_older_agent_says_nothing_of_configuration_and_an_older_hub_sends_none() -> None:
    old_batch = {"site": "clinic", "sent_at": T0}
    old_ack = {"acked": {"readings": 1}, "server_time": T0}
    parsed = SyncBatch.model_validate_json(json.dumps(old_batch))
    assert (parsed.config_version, parsed.config_rejected) == (None, None)
    assert SyncAck.model_validate_json(json.dumps(old_ack)).config is None
