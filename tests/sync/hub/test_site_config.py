"""Versions at the hub and what a sync hands down, on SQLite and PostgreSQL."""

import pytest
from sqlalchemy import select

from sync.hub import auth, schema, site_config
from sync.hub.db import HubDB
from sync.hub.errors import InvalidConfig, NotPermitted
from sync.hub.ingest import apply_batch
from sync.protocol import ConfigRejected
from tests.hubfixtures import T0, batch

ADMIN = auth.User(id=1, name="root", role="admin")
GOOD = b"devices:\n  - {id: f1, kind: temperature}\n"


@pytest.fixture
def site(hubdb: HubDB) -> str:
    auth.create_agent(hubdb, "clinic", now=T0)
    return "clinic"


def sync(hubdb: HubDB, applied: int | None, rejected: int | None = None) -> int | None:
    """The version a sync hands down to an agent that runs ``applied`` and refused ``rejected``."""
    refused = ConfigRejected(version=rejected, reason="no") if rejected else None
    sent = batch().model_copy(update={"config_version": applied, "config_rejected": refused})
    ack = apply_batch(hubdb, "clinic", sent, T0)
    return ack.config.version if ack.config else None


@pytest.mark.parametrize(
    ("applied", "rejected", "sent"),
    [
        (0, None, 2),
        (1, None, 2),
        (2, None, None),
        (1, 2, None),
        (0, 1, 2),
        (None, None, None),
    ],
    ids=[
        "runs its file",
        "runs an older one",
        "runs the newest",
        "refused the newest",
        "refused an older one",
        "predates the downlink",
    ],
)
def test_a_sync_hands_down_the_newest_version_once(
    hubdb: HubDB, site: str, applied: int | None, rejected: int | None, sent: int | None
) -> None:
    site_config.put_config(hubdb, ADMIN, site, GOOD, "yaml", T0)
    site_config.put_config(hubdb, ADMIN, site, b'{"devices": []}', "json", T0 + 1)
    assert sync(hubdb, applied, rejected) == sent


def test_without_a_version_nothing_is_handed_down(hubdb: HubDB, site: str) -> None:
    assert sync(hubdb, 0) is None


def test_the_agents_report_is_kept(hubdb: HubDB, site: str) -> None:
    site_config.put_config(hubdb, ADMIN, site, GOOD, "yaml", T0)
    sync(hubdb, 0, 1)
    got = site_config.status(hubdb, ADMIN, site)
    assert (got.applied_version, got.rejected_version, got.error, got.reported_at) == (
        0,
        1,
        "no",
        T0,
    )
    assert got.current is not None and got.current.text == GOOD.decode()


def test_an_older_agent_leaves_no_report(hubdb: HubDB, site: str) -> None:
    sync(hubdb, None)
    with hubdb.read() as conn:
        assert list(conn.execute(select(schema.site_config_status))) == []


def test_a_refused_version_is_not_stored(hubdb: HubDB, site: str) -> None:
    with pytest.raises(InvalidConfig) as refused:
        site_config.put_config(hubdb, ADMIN, site, b"rules: [{id: r}]\n", "yaml", T0)
    assert refused.value.errors[0].startswith("rules[0]: Unable to extract tag")
    assert site_config.versions(hubdb, ADMIN, site) == []


@pytest.mark.parametrize("role", ["maintenance", "energy", "security"])
def test_only_an_admin_may(hubdb: HubDB, site: str, role: str) -> None:
    user = auth.User(id=2, name="x", role=role)
    with pytest.raises(NotPermitted):
        site_config.put_config(hubdb, user, site, GOOD, "yaml", T0)
