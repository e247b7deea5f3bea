"""agent.session: what is acknowledged, on which connection."""

from __future__ import annotations

from agent.session import Session


def session() -> Session:
    # Never started: paho queues what it would send, and want_write() tells whether it did.
    made = Session("mqtt://127.0.0.1:1", ["fw/site/#"], client_id="test-session")
    made.generation = 2
    return made


def test_a_message_is_acknowledged_on_the_connection_that_delivered_it() -> None:
    current = session()
    current.ack(2, 17, 1)
    assert current.client.want_write()


def test_an_acknowledgement_meant_for_an_earlier_connection_is_not_sent() -> None:
    # The broker has redelivered that message under the same packet id, which may by now name
    # another message, not yet committed.
    current = session()
    current.ack(1, 17, 1)
    assert not current.client.want_write()


def test_a_qos_0_message_needs_no_acknowledgement() -> None:
    current = session()
    current.ack(2, 17, 0)
    assert not current.client.want_write()
