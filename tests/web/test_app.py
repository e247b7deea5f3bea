import pytest

from sync.hub import errors
from tests.hubfixtures import RunningHub
from web.app import status_of


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InvalidToken("agent"), 401),
        (errors.LoginFailed("ann"), 401),
        (errors.WrongSite("a", "b"), 403),
        (errors.NotPermitted("energy", "acknowledge alarms"), 403),
        (errors.UnknownAlarm("x"), 404),
        (errors.DuplicateUser("ann"), 409),
        (errors.InvalidTime("from", "x"), 422),
        (errors.InvalidBatch("x"), 422),
        (errors.HubError("x"), 400),
    ],
)
def test_each_branch_of_the_hierarchy_has_its_status(error: errors.HubError, status: int) -> None:
    assert status_of(error) == status


def test_the_database_handle_is_on_the_app(hub: RunningHub) -> None:
    assert hub.app.state.hubdb.dialect in ("sqlite", "postgresql")
