"""Request bodies of the sync endpoint (``sync.envelope``): both ways, and bounded at the hub."""

import gzip
import struct

import pytest

from sync import envelope
from sync.columns import Readings
from sync.envelope import BadBody, TooLarge
from tests.hubfixtures import T0, access, batch, reading

READINGS = Readings(4, 6, [(5, "freezer-1", "temperature", T0, -18.5, T0 + 0.25)])


def test_json_goes_and_comes_back() -> None:
    sent = batch(readings=[reading(1)], access_events=[access(1)])
    body, headers = envelope.encode(sent)
    assert headers == {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    assert envelope.decode(body, headers["Content-Type"], "gzip") == (sent, None)


def test_columns_carry_the_readings_beside_the_batch() -> None:
    sent = batch(access_events=[access(1)])
    body, headers = envelope.encode(sent, READINGS)
    got, readings = envelope.decode(body, headers["Content-Type"], headers["Content-Encoding"])
    assert headers["Content-Type"] == envelope.COLUMNS_TYPE
    assert (got, readings) == (sent.model_copy(update={"readings": None}), READINGS)


@pytest.mark.parametrize("content_type", ["", "text/plain", "application/json; charset=utf-8"])
def test_anything_but_columns_is_read_as_json(content_type: str) -> None:
    sent = batch(readings=[reading(1)])
    assert envelope.decode(sent.model_dump_json().encode(), content_type, "") == (sent, None)


def columns_body(raw: bytes) -> bytes:
    return gzip.compress(raw)


HEAD = batch().model_dump_json().encode()


@pytest.mark.parametrize(
    ("body", "content_type", "encoding", "reason"),
    [
        (b"not gzip", "", "gzip", "body is not valid gzip"),
        (gzip.compress(HEAD)[:-12], "", "gzip", "gzip body is cut short"),
        (HEAD, "", "br", "unsupported Content-Encoding 'br'"),
        (b"{", "", "", "body: Invalid JSON"),
        (b"FWB0", envelope.COLUMNS_TYPE, "", "a columns body starts with FWB1"),
        (b"FWB1" + struct.pack("<I", 10**6) + HEAD, envelope.COLUMNS_TYPE, "", "runs past"),
        (
            b"FWB1" + struct.pack("<I", len(HEAD)) + HEAD + b"FWR1",
            envelope.COLUMNS_TYPE,
            "",
            "readings: not a columnar readings chunk",
        ),
    ],
)
def test_a_bad_body_is_refused(body: bytes, content_type: str, encoding: str, reason: str) -> None:
    with pytest.raises(BadBody, match=reason):
        envelope.decode(body, content_type, encoding)


def test_a_zip_bomb_stops_at_the_limit() -> None:
    bomb = gzip.compress(bytes(64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100_000
    with pytest.raises(TooLarge, match="larger than 1048576 bytes once decompressed"):
        envelope.decode(bomb, envelope.COLUMNS_TYPE, "gzip", limit=1024 * 1024)


def test_a_body_over_the_limit_is_refused_unread() -> None:
    with pytest.raises(TooLarge, match="larger than 10 bytes"):
        envelope.decode(bytes(11), "", "", limit=10)
