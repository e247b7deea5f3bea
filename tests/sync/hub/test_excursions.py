"""Excursion records at the hub (``sync.hub.excursions``), over SQLite and PostgreSQL: stored once
per (site, seq), read by the cold-chain roles, filtered by overlap with a period."""

from __future__ import annotations

import pytest

from sync.hub import auth
from sync.hub.db import HubDB
from sync.hub.errors import NotPermitted
from sync.hub.excursions import StoredDoorEvent, StoredExcursion, excursions
from sync.hub.ingest import apply_batch
from tests.hubfixtures import T0, batch, excursion, reading

H = 3600.0
ADMIN = auth.User(1, "root", "admin")


def seqs(hubdb: HubDB, **filters: object) -> list[tuple[str, int]]:
    found = excursions(hubdb, ADMIN, limit=100, **filters)  # type: ignore[arg-type]
    return [(x.site, x.seq) for x in found]


def test_an_excursion_is_stored_as_sent(hubdb: HubDB) -> None:
    apply_batch(hubdb, "clinic", batch(excursions=[excursion(1)]), T0)
    assert excursions(hubdb, ADMIN, limit=10) == [
        StoredExcursion(
            site="clinic",
            seq=1,
            rule="vaccines",
            device="fridge-1",
            metric="temperature",
            started_at=T0,
            ended_at=T0 + 70 * 60,
            lowest=-1.5,
            highest=-0.5,
            ended_by="range",
            doors=(StoredDoorEvent("fridge-1-door", T0 + 60, True),),
            doors_dropped=0,
        )
    ]
    assert excursions(hubdb, ADMIN, limit=10)[0].duration == 70 * 60


def test_a_resent_batch_stores_each_excursion_once(hubdb: HubDB) -> None:
    sent = batch(excursions=[excursion(1), excursion(2, start=T0 + H)])
    acks = [apply_batch(hubdb, "clinic", sent, T0).acked["excursions"] for _ in range(2)]
    overlapping = batch(excursions=[excursion(2, start=T0 + H), excursion(3, start=T0 + 2 * H)])
    acks.append(apply_batch(hubdb, "clinic", overlapping, T0).acked["excursions"])
    assert (acks, seqs(hubdb)) == ([2, 2, 3], [("clinic", 1), ("clinic", 2), ("clinic", 3)])


def test_excursions_resume_after_a_gap(hubdb: HubDB) -> None:
    apply_batch(hubdb, "clinic", batch(excursions=[excursion(1)]), T0)
    gap = apply_batch(hubdb, "clinic", batch(excursions=[excursion(3)], after=2), T0)
    assert gap.acked["excursions"] == 1


def test_an_older_agents_batch_without_excursions_keeps_the_cursor(hubdb: HubDB) -> None:
    apply_batch(hubdb, "clinic", batch(excursions=[excursion(1)]), T0)
    old = batch(readings=[reading(1)]).model_copy(update={"excursions": None})
    assert apply_batch(hubdb, "clinic", old, T0).acked["excursions"] == 1


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({}, [("clinic", 1), ("school", 1), ("clinic", 2)]),
        ({"site": "school"}, [("school", 1)]),
        ({"device": "fridge-2"}, [("clinic", 2)]),
        ({"device": "nope"}, []),
        # Overlap: the first runs T0 .. T0 + 70 min, so it is in a period from T0 + 1 h.
        ({"start": T0 + H}, [("clinic", 1), ("school", 1), ("clinic", 2)]),
        ({"start": T0 + 71 * 60}, [("school", 1), ("clinic", 2)]),
        ({"end": T0 + 90 * 60}, [("clinic", 1), ("school", 1)]),
        ({"start": T0 + 3 * H, "end": T0 + 4 * H}, [("clinic", 2)]),
        ({"end": T0 - 1}, []),
    ],
)
def test_filters(hubdb: HubDB, filters: dict[str, object], expected: list[object]) -> None:
    clinic = [excursion(1), excursion(2, start=T0 + 3 * H, device="fridge-2")]
    apply_batch(hubdb, "clinic", batch(excursions=clinic), T0)
    apply_batch(hubdb, "school", batch("school", excursions=[excursion(1, start=T0 + H)]), T0)
    assert seqs(hubdb, **filters) == expected


def test_the_limit_keeps_the_oldest(hubdb: HubDB) -> None:
    sent = [excursion(i, start=T0 - i * H) for i in (1, 2, 3)]
    apply_batch(hubdb, "clinic", batch(excursions=sent), T0)
    assert [x.seq for x in excursions(hubdb, ADMIN, limit=2)] == [3, 2]


@pytest.mark.parametrize("role", ["admin", "maintenance"])
def test_the_cold_chain_roles_read_excursions(hubdb: HubDB, role: str) -> None:
    apply_batch(hubdb, "clinic", batch(excursions=[excursion(1)]), T0)
    assert len(excursions(hubdb, auth.User(2, "someone", role), limit=1)) == 1


@pytest.mark.parametrize("role", ["energy", "security"])
def test_other_roles_may_not(hubdb: HubDB, role: str) -> None:
    with pytest.raises(NotPermitted, match=f"role '{role}' may not read cold-chain excursions"):
        excursions(hubdb, auth.User(2, "someone", role), limit=1)
