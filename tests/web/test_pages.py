import httpx
import pytest

from sync.hub import auth
from sync.protocol import ClockReport, StoreReport
from tests.hubfixtures import T0, Credentials, RunningHub, batch, push, seed_batch

HOSTILE_NAME = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"


@pytest.fixture
def seeded(http: httpx.Client, creds: Credentials) -> Credentials:
    assert push(http, creds.agent, seed_batch()).status_code == 200
    return creds


def login(http: httpx.Client, name: str, password: str) -> httpx.Response:
    return http.post("/login", data={"name": name, "password": password})


@pytest.fixture
def ann(http: httpx.Client, seeded: Credentials) -> httpx.Client:
    assert login(http, "ann", seeded.password).status_code == 303
    return http


@pytest.fixture
def eve(hub: RunningHub, http: httpx.Client, seeded: Credentials) -> httpx.Client:
    password, _ = auth.create_user(hub.hubdb, "eve", "energy")
    assert login(http, "eve", password).status_code == 303
    return http


@pytest.mark.parametrize("path", ["/", "/?x=1"])
def test_the_dashboard_needs_a_login(http: httpx.Client, path: str) -> None:
    response = http.get(path)
    assert (response.status_code, response.headers["location"]) == (303, "/login")


def test_the_login_form(http: httpx.Client) -> None:
    page = http.get("/login")
    assert page.status_code == 200
    assert '<form method="post" action="/login"' in page.text
    assert 'name="viewport"' in page.text


def test_a_login_sets_a_safe_session_cookie(http: httpx.Client, creds: Credentials) -> None:
    response = login(http, "ann", creds.password)
    cookie = response.headers["set-cookie"].lower()
    assert (response.status_code, response.headers["location"]) == (303, "/")
    assert ("fw_session=" in cookie, "httponly" in cookie, "samesite=lax" in cookie) == (
        True,
        True,
        True,
    )


@pytest.mark.parametrize(("name", "password"), [("ann", "wrong"), ("<b>bob</b>", "x")])
def test_a_wrong_login_shows_the_form_again(
    http: httpx.Client, creds: Credentials, name: str, password: str
) -> None:
    page = login(http, name, password)
    assert (page.status_code, "wrong user name or password" in page.text) == (401, True)
    assert "<b>bob</b>" not in page.text and "set-cookie" not in page.headers


def test_the_dashboard_shows_alarms_and_latest_readings(ann: httpx.Client) -> None:
    page = ann.get("/").text
    assert '<meta http-equiv="refresh" content="10">' in page
    assert all(
        text in page
        for text in (
            "freezer-warm",
            "freezer-1 temperature above -15",
            "unacknowledged",
            "Kitchen freezer",
            "Canteen",
            "-12.25 °C",
            "Acknowledge",
            "2026-11-18 11:07:40 UTC",
            "ann (maintenance)",
        )
    )


def test_the_dashboard_shows_the_agents_store_under_pressure(
    ann: httpx.Client, seeded: Credentials
) -> None:
    report = StoreReport(
        size=470_000_000, max_size=500_000_000, pressure=True, thinned={"rolled_up": 1200}
    )
    sent = seed_batch().model_copy(update={"store": report})
    assert push(ann, seeded.agent, sent).status_code == 200
    page = ann.get("/").text
    assert "store 470MB of 500MB" in page
    assert "thinning readings the hub has not got" in page
    assert "1200 readings sent as hourly rollups" in page


def test_the_dashboard_shows_the_last_swipe_at_every_gate(ann: httpx.Client) -> None:
    page = ann.get("/").text
    gates = page[page.index("Gates: last swipe") :]
    assert all(
        text in gates
        for text in (
            'data-device="gate-north" class="swipe denied"',
            "North gate",
            "&lt;script&gt;card&lt;/script&gt;",
            "unknown",
            "2026-11-18 11:06:45 UTC",
        )
    )
    assert "<script>card" not in page


def test_hostile_names_are_escaped(ann: httpx.Client) -> None:
    page = ann.get("/").text
    assert (HOSTILE_NAME in page, "<script>" in page) == (True, False)


def test_a_role_that_may_not_acknowledge_sees_no_button(eve: httpx.Client) -> None:
    page = eve.get("/").text
    assert ("freezer-warm" in page, "Acknowledge" in page) == (True, False)


def test_acknowledge_from_the_dashboard(ann: httpx.Client) -> None:
    response = ann.post("/alarms/a1/ack")
    page = ann.get("/").text
    assert (response.status_code, response.headers["location"]) == (303, "/")
    assert ("acknowledged by ann" in page, "Acknowledge</button>" in page) == (True, False)


def test_acknowledging_needs_the_role(eve: httpx.Client) -> None:
    assert eve.post("/alarms/a1/ack").status_code == 403


def test_acknowledging_needs_a_login(http: httpx.Client, seeded: Credentials) -> None:
    response = http.post("/alarms/a1/ack")
    assert (response.status_code, response.headers["location"]) == (303, "/login")


def test_a_form_from_another_site_is_refused(ann: httpx.Client) -> None:
    response = ann.post("/alarms/a1/ack", headers={"Origin": "http://evil.example"})
    assert response.status_code == 403


def test_logout_ends_the_session(ann: httpx.Client) -> None:
    session = ann.cookies["fw_session"]
    response = ann.post("/logout")
    ann.cookies.set("fw_session", session)
    assert (response.status_code, response.headers["location"]) == (303, "/login")
    assert ann.get("/").headers["location"] == "/login"


def test_a_forged_cookie_is_sent_to_the_login(http: httpx.Client, seeded: Credentials) -> None:
    http.cookies.set("fw_session", "forged")
    assert http.get("/").headers["location"] == "/login"


def test_an_empty_hub(http: httpx.Client, creds: Credentials) -> None:
    login(http, "ann", creds.password)
    assert "No readings yet." in http.get("/").text


def test_pages_are_not_cached(ann: httpx.Client) -> None:
    assert ann.get("/").headers["cache-control"] == "no-store"


def test_a_site_that_never_synced(http: httpx.Client, creds: Credentials) -> None:
    login(http, "ann", creds.password)
    assert "never synced" in http.get("/").text


def test_the_dashboard_shows_the_agents_clock_offset(
    http: httpx.Client, creds: Credentials
) -> None:
    assert push(http, creds.agent, seed_batch()).status_code == 200
    assert login(http, "ann", creds.password).status_code == 303
    assert "agent clock" not in http.get("/").text
    clock = ClockReport(offset=-75.25, round_trip=0.1, measured_at=T0)
    later = batch(after=3, readings=[]).model_copy(update={"clock": clock})
    assert push(http, creds.agent, later).status_code == 200
    page = http.get("/").text
    assert "agent clock 75.2 s ahead" in page
    assert "the clock of site clinic&#39;s agent is 75 s ahead of the hub&#39;s" in page
