import pytest
from sqlalchemy import select

from sync.hub import auth, schema
from sync.hub.db import HubDB
from sync.hub.errors import DuplicateUser, InvalidInput, InvalidRole, InvalidToken, LoginFailed
from tests.hubfixtures import T0


def test_an_agent_token_opens_its_site(hubdb: HubDB) -> None:
    token = auth.create_agent(hubdb, "clinic", now=T0)
    assert auth.agent_site(hubdb, token) == "clinic"


def test_an_agent_token_is_stored_only_as_its_hash(hubdb: HubDB) -> None:
    token = auth.create_agent(hubdb, "clinic", now=T0)
    with hubdb.read() as conn:
        stored = conn.execute(select(schema.agents.c.token_hash)).scalars().all()
    assert stored == [auth.token_hash(token)]


def test_creating_agents_registers_the_site_once(hubdb: HubDB) -> None:
    tokens = [auth.create_agent(hubdb, "clinic", now=T0) for _ in range(2)]
    with hubdb.read() as conn:
        sites = conn.execute(select(schema.sites.c.id, schema.sites.c.name)).all()
    assert ([tuple(s) for s in sites], len(set(tokens))) == ([("clinic", "clinic")], 2)


@pytest.mark.parametrize("token", ["", "nope", "x" * 43])
def test_an_unknown_agent_token_is_refused(hubdb: HubDB, token: str) -> None:
    auth.create_agent(hubdb, "clinic", now=T0)
    with pytest.raises(InvalidToken, match="agent token"):
        auth.agent_site(hubdb, token)


def test_a_revoked_agent_token_is_refused(hubdb: HubDB) -> None:
    token = auth.create_agent(hubdb, "clinic", now=T0)
    assert auth.revoke_agent(hubdb, token, T0 + 1)
    with pytest.raises(InvalidToken):
        auth.agent_site(hubdb, token)


@pytest.mark.parametrize(
    ("at", "old_works"),
    [
        pytest.param(T0 + 3_599, True, id="within the grace"),
        pytest.param(T0 + 3_600, False, id="after"),
    ],
)
def test_a_rotated_token_works_until_its_grace_ends(
    hubdb: HubDB, at: float, old_works: bool
) -> None:
    old = auth.create_agent(hubdb, "clinic", now=T0)
    other_site = auth.create_agent(hubdb, "school", now=T0)
    new = auth.rotate_agent(hubdb, "clinic", T0, grace=3_600)
    assert auth.agent_site(hubdb, new, now=at) == "clinic"
    assert auth.agent_site(hubdb, other_site, now=at) == "school"
    assert _opens(hubdb, old, at) == old_works


def test_rotating_again_does_not_extend_an_earlier_grace(hubdb: HubDB) -> None:
    old = auth.create_agent(hubdb, "clinic", now=T0)
    auth.rotate_agent(hubdb, "clinic", T0, grace=60)
    auth.rotate_agent(hubdb, "clinic", T0 + 30, grace=3_600)
    assert not _opens(hubdb, old, T0 + 61)


def test_revoking_a_site_refuses_all_its_tokens_at_once(hubdb: HubDB) -> None:
    tokens = [auth.create_agent(hubdb, "clinic", now=T0) for _ in range(2)]
    tokens.append(auth.rotate_agent(hubdb, "clinic", T0, grace=3_600))
    assert auth.revoke_site_agents(hubdb, "clinic", T0 + 10) == 3
    assert [_opens(hubdb, token, T0 + 11) for token in tokens] == [False, False, False]
    assert auth.revoke_site_agents(hubdb, "clinic", T0 + 20) == 0


def _opens(hubdb: HubDB, token: str, at: float) -> bool:
    try:
        auth.agent_site(hubdb, token, now=at)
    except InvalidToken:
        return False
    return True


@pytest.mark.parametrize("role", auth.ROLES)
def test_a_user_gets_a_password_and_an_api_token(hubdb: HubDB, role: str) -> None:
    password, token = auth.create_user(hubdb, "ann", role, now=T0)
    user = auth.user_for_token(hubdb, token, "api", T0)
    assert (user.name, user.role, len(password) >= 16) == ("ann", role, True)


def test_a_password_is_stored_as_argon2id(hubdb: HubDB) -> None:
    password, _ = auth.create_user(hubdb, "ann", "admin", now=T0)
    with hubdb.read() as conn:
        stored = conn.execute(select(schema.users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and password not in stored


def test_a_user_name_is_taken_once(hubdb: HubDB) -> None:
    auth.create_user(hubdb, "ann", "admin", now=T0)
    with pytest.raises(DuplicateUser, match="user 'ann' already exists"):
        auth.create_user(hubdb, "ann", "energy", now=T0)


def test_an_unknown_role_is_refused(hubdb: HubDB) -> None:
    with pytest.raises(InvalidRole, match="choose one of admin, maintenance, energy, security"):
        auth.create_user(hubdb, "ann", "root", now=T0)


@pytest.mark.parametrize("name", ["", " ", " ann"])
def test_a_blank_user_name_is_refused(hubdb: HubDB, name: str) -> None:
    with pytest.raises(InvalidInput):
        auth.create_user(hubdb, name, "admin", now=T0)


@pytest.mark.parametrize(
    ("role", "can"),
    [("admin", True), ("maintenance", True), ("energy", False), ("security", False)],
)
def test_who_may_acknowledge(role: str, can: bool) -> None:
    assert auth.User(1, "ann", role).can_acknowledge is can


def test_a_login_opens_a_session(hubdb: HubDB) -> None:
    password, _ = auth.create_user(hubdb, "ann", "energy", now=T0)
    session = auth.login(hubdb, "ann", password, T0)
    assert auth.user_for_token(hubdb, session, "session", T0 + 60).name == "ann"


@pytest.mark.parametrize(("name", "password"), [("ann", "wrong"), ("bob", "wrong"), ("ann", "")])
def test_a_wrong_login_is_refused(hubdb: HubDB, name: str, password: str) -> None:
    auth.create_user(hubdb, "ann", "energy", now=T0)
    with pytest.raises(LoginFailed, match="wrong user name or password"):
        auth.login(hubdb, name, password, T0)


def test_a_session_expires(hubdb: HubDB) -> None:
    password, _ = auth.create_user(hubdb, "ann", "energy", now=T0)
    session = auth.login(hubdb, "ann", password, T0)
    with pytest.raises(InvalidToken, match="session token"):
        auth.user_for_token(hubdb, session, "session", T0 + auth.SESSION_TTL + 1)


def test_a_logout_ends_the_session(hubdb: HubDB) -> None:
    password, _ = auth.create_user(hubdb, "ann", "energy", now=T0)
    session = auth.login(hubdb, "ann", password, T0)
    auth.logout(hubdb, session)
    with pytest.raises(InvalidToken):
        auth.user_for_token(hubdb, session, "session", T0)


def test_session_and_api_tokens_do_not_stand_in_for_each_other(hubdb: HubDB) -> None:
    password, api = auth.create_user(hubdb, "ann", "energy", now=T0)
    session = auth.login(hubdb, "ann", password, T0)
    with pytest.raises(InvalidToken):
        auth.user_for_token(hubdb, session, "api", T0)
    with pytest.raises(InvalidToken):
        auth.user_for_token(hubdb, api, "session", T0)


def test_expired_sessions_are_forgotten_at_the_next_login(hubdb: HubDB) -> None:
    password, _ = auth.create_user(hubdb, "ann", "energy", now=T0)
    auth.login(hubdb, "ann", password, T0)
    auth.login(hubdb, "ann", password, T0 + auth.SESSION_TTL + 1)
    with hubdb.read() as conn:
        kinds = conn.execute(select(schema.api_tokens.c.kind)).scalars().all()
    assert sorted(kinds) == ["api", "session"]
