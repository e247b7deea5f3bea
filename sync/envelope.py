"""The body of ``POST /api/v1/sync``: the two ways an agent writes a batch, and the hub's bounded
reading of either.

- ``application/json``: a ``SyncBatch``. Every agent can write it and every hub reads it.
- ``application/vnd.facilitywatch.sync+columns``: ``FWB1``, the length of the ``SyncBatch`` JSON
  (u32, little-endian), that JSON without readings, then the readings chunk in columns
  (``sync.columns``). An agent sends it only to a hub whose acknowledgement lists ``COLUMNS`` in
  ``accepts``, so an older hub never sees it.

Both go gzip-compressed (``Content-Encoding: gzip``; identity is read too). gzip rather than zstd:
on the columns zstd saved a tenth of a byte a reading and 20 ms in a 200,000-reading batch whose
encoding takes a second, not worth a native dependency at both ends.

Errors: ``BadBody`` (a ``ValueError``) for anything the hub cannot read, ``TooLarge`` for a body
over the limit before or after decompression.
"""

from __future__ import annotations

import gzip
import struct
import zlib

from pydantic import ValidationError

from sync import columns
from sync.columns import Readings
from sync.protocol import SyncBatch

__all__ = [
    "COLUMNS",
    "COLUMNS_TYPE",
    "ENVELOPE_BYTES",
    "JSON_TYPE",
    "MAX_BODY_BYTES",
    "BadBody",
    "TooLarge",
    "decode",
    "encode",
]

JSON_TYPE = "application/json"
COLUMNS_TYPE = "application/vnd.facilitywatch.sync+columns"
# What a hub lists in ``SyncAck.accepts`` when it reads COLUMNS_TYPE.
COLUMNS = "columns-1"
MAGIC = b"FWB1"
ENVELOPE_BYTES = 8
MAX_BODY_BYTES = 64 * 1024 * 1024
_LENGTH = struct.Struct("<I")


class BadBody(ValueError):
    """A body the hub cannot read: not gzip, not a batch, columns that do not decode."""


class TooLarge(BadBody):
    def __init__(self, limit: int, stage: str) -> None:
        super().__init__(f"batch larger than {limit} bytes{stage}")
        self.limit = limit


def encode(batch: SyncBatch, readings: Readings | None = None) -> tuple[bytes, dict[str, str]]:
    """The compressed body and its headers: columns when ``readings`` is given (``batch.readings``
    is then ignored), JSON otherwise."""
    if readings is None:
        body = gzip.compress(batch.model_dump_json().encode(), compresslevel=5)
        return body, {"Content-Type": JSON_TYPE, "Content-Encoding": "gzip"}
    head = batch.model_dump_json(exclude={"readings"}).encode()
    raw = b"".join([MAGIC, _LENGTH.pack(len(head)), head, columns.encode(readings)])
    # Level 1: the columns leave little for a slower level (3.2 against 3.4 bytes a reading).
    body = gzip.compress(raw, compresslevel=1)
    return body, {"Content-Type": COLUMNS_TYPE, "Content-Encoding": "gzip"}


def decode(
    body: bytes, content_type: str, content_encoding: str, *, limit: int = MAX_BODY_BYTES
) -> tuple[SyncBatch, Readings | None]:
    """The batch and, for a columns body, its readings (the batch's own ``readings`` is None)."""
    if len(body) > limit:
        raise TooLarge(limit, "")
    encoding = content_encoding.strip().lower()
    if encoding == "gzip":
        body = _gunzip(body, limit)
    elif encoding not in ("", "identity"):
        raise BadBody(f"unsupported Content-Encoding {content_encoding!r}")
    # Anything but columns is read as JSON, as hubs always have: older agents and hand-made
    # requests do not all say application/json.
    if content_type.split(";")[0].strip().lower() == COLUMNS_TYPE:
        return _columns(body)
    return _batch(body), None


def _columns(body: bytes) -> tuple[SyncBatch, Readings]:
    if len(body) < ENVELOPE_BYTES or body[:4] != MAGIC:
        raise BadBody("a columns body starts with FWB1 and the length of its batch")
    (size,) = _LENGTH.unpack_from(body, 4)
    end = ENVELOPE_BYTES + size
    if end > len(body):
        raise BadBody("the batch runs past the end of the body")
    batch = _batch(body[ENVELOPE_BYTES:end])
    try:
        readings = columns.decode(body[end:])
    except columns.Malformed as error:
        raise BadBody(f"readings: {error}") from None
    return batch.model_copy(update={"readings": None}), readings


def _batch(data: bytes) -> SyncBatch:
    try:
        return SyncBatch.model_validate_json(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[:3]
        reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in first)
        raise BadBody(reasons) from None


def _gunzip(body: bytes, limit: int) -> bytes:
    # Bounded: a few kilobytes of gzip can claim gigabytes.
    inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error as error:
        raise BadBody(f"body is not valid gzip: {error}") from None
    if len(data) > limit or inflater.unconsumed_tail:
        raise TooLarge(limit, " once decompressed")
    if not inflater.eof:
        raise BadBody("gzip body is cut short")
    return data
