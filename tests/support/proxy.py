"""A TCP proxy on loopback that breaks HTTP exchanges on purpose, one request at a time.

It reads each request (and its response) by ``Content-Length``, just enough to know where one
exchange ends, so a kept-alive connection meets the next fault of the plan at its next request:

- ``PASS``: the request and the response go through;
- ``CUT_REQUEST``: half of the request body reaches the hub, then both connections close;
- ``CUT_RESPONSE``: the hub gets everything and answers, the client gets half the answer, and
  both connections close (the hub committed what the client thinks failed);
- ``DELAY_RESPONSE``: the hub's answer is held for ``delay`` seconds, past the client's timeout,
  then written to whatever is left of the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import socket
import threading
from collections import Counter
from collections.abc import Iterable, Iterator

HEAD_END = b"\r\n\r\n"


class Fault(enum.Enum):
    PASS = "pass"
    CUT_REQUEST = "cut request"
    CUT_RESPONSE = "cut response"
    DELAY_RESPONSE = "delay response"


class FaultProxy:
    def __init__(self, upstream_port: int, plan: Iterable[Fault], delay: float = 2.0) -> None:
        self.upstream_port = upstream_port
        self.delay = delay
        # Every request takes the next fault, round and round.
        self._plan: Iterator[Fault] = itertools.cycle(list(plan))
        self.seen: Counter[Fault] = Counter()
        self._lock = threading.Lock()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=asyncio.run, args=(self._serve(),), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self._thread.start()
        assert self._ready.wait(10), "the proxy did not start"

    def stop(self) -> None:
        if self._loop is not None and self._stopped is not None:
            self._loop.call_soon_threadsafe(self._stopped.set)
        self._thread.join(10)

    def _next(self) -> Fault:
        with self._lock:
            fault = next(self._plan)
            self.seen[fault] += 1
            return fault

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        server = await asyncio.start_server(self._connection, sock=self._sock)
        self._ready.set()
        async with server:
            await self._stopped.wait()
            server.close()
            # Connections still held (a delayed response) end with the loop.
            for task in asyncio.all_tasks() - {asyncio.current_task()}:
                task.cancel()

    async def _connection(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while True:
                request = await _message(client_r)
                if request is None:
                    return
                if upstream is None:
                    upstream = await asyncio.open_connection("127.0.0.1", self.upstream_port)
                if not await self._exchange(self._next(), request, upstream, client_w):
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            for writer in (client_w, upstream[1] if upstream else None):
                if writer is not None:
                    writer.close()
                    with contextlib.suppress(ConnectionError, asyncio.CancelledError):
                        await writer.wait_closed()

    async def _exchange(
        self,
        fault: Fault,
        request: tuple[bytes, bytes],
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter],
        client_w: asyncio.StreamWriter,
    ) -> bool:
        """One request and its response under ``fault``; False when the connection must end."""
        head, body = request
        up_r, up_w = upstream
        if fault is Fault.CUT_REQUEST:
            up_w.write(head + body[: len(body) // 2])
            await up_w.drain()
            return False
        up_w.write(head + body)
        await up_w.drain()
        response = await _message(up_r)
        if response is None:
            return False
        answer = response[0] + response[1]
        if fault is Fault.CUT_RESPONSE:
            client_w.write(answer[: len(answer) // 2])
            await client_w.drain()
            return False
        if fault is Fault.DELAY_RESPONSE:
            await asyncio.sleep(self.delay)
            client_w.write(answer)
            with contextlib.suppress(ConnectionError):
                await client_w.drain()
            return False
        client_w.write(answer)
        await client_w.drain()
        return True


async def _message(reader: asyncio.StreamReader) -> tuple[bytes, bytes] | None:
    """One HTTP/1.1 message with a ``Content-Length`` body (what httpx and uvicorn send here);
    None at a clean end of the connection."""
    try:
        head = await reader.readuntil(HEAD_END)
    except asyncio.IncompleteReadError as error:
        if error.partial:
            raise
        return None
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return head, await reader.readexactly(length)
