"""A TCP server on loopback that accepts connections and never answers: a hung Rasa."""

from __future__ import annotations

import asyncio
from typing import Self


class SilentServer:
    """``async with SilentServer() as server:`` listens at ``server.url``; every connection is
    accepted, its bytes read and ignored, and it stays open until the client gives up."""

    def __init__(self) -> None:
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def _hold(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._writers.add(writer)
        try:
            while await reader.read(65536):
                pass  # read the request, say nothing
        except ConnectionError:
            pass
        finally:
            self._writers.discard(writer)
            writer.close()

    async def __aenter__(self) -> Self:
        self._server = await asyncio.start_server(self._hold, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        # let each handler see its connection end, so none is left for the loop to cancel
        await asyncio.wait_for(
            asyncio.gather(*self._handlers, return_exceptions=True), timeout=5
        )
        await self._server.wait_closed()
