"""Operator action logs for property tests: the same arbitrary logs at the agent and the hub, so
both ends' standings are checked against the one pure fold (``rules.actions.standing``)."""

from __future__ import annotations

from hypothesis import strategies as st

from rules.actions import Action


def point_logs(t0: float) -> st.SearchStrategy[list[Action]]:
    """Up to 25 actions on two rules, a minute apart from ``t0`` (ties included), with and
    without ``until`` and an alarm; point actions mixed with ack and note, which decide nothing."""
    return st.lists(
        st.builds(
            Action,
            id=st.text("0123456789abcdef", min_size=4, max_size=4),
            kind=st.sampled_from(
                ["shelve", "unshelve", "suppress", "unsuppress", "disable", "enable", "ack", "note"]
            ),
            rule=st.sampled_from(["freezer-warm", "freezer-silent"]),
            by=st.just("li"),
            at=st.integers(0, 20).map(lambda k: t0 + 60 * k),
            alarm_id=st.sampled_from([None, "a1"]),
            until=st.one_of(st.none(), st.integers(0, 30).map(lambda k: t0 + 60 * k)),
        ),
        max_size=25,
        unique_by=lambda action: action.id,
    )
