"""An aiohttp app served on a free port of 127.0.0.1 by a daemon thread with its own event loop.

The fake servers (Telegram Bot API, VK API, billing, SMS gateway) run this way, so a test's
event loop never waits on them and a plain script can use them too. ``setup`` adds the routes
and runs inside the server's loop (so it may create loop-bound objects); ``stopping`` is set
when the server stops, for handlers that hold a request open.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from collections.abc import Awaitable, Callable

from aiohttp import web


class ServerThread:
    def __init__(
        self,
        setup: Callable[[web.Application], None],
        *,
        name: str,
        shutdown_timeout: float = 60.0,
        on_stop: Callable[[], None] | None = None,
        before_cleanup: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._setup = setup
        self._name = name
        self._shutdown_timeout = shutdown_timeout
        self._on_stop = on_stop  # runs in the loop once ``stopping`` is set (wake held requests)
        self._before_cleanup = before_cleanup
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> str:
        """Start serving; returns the base URL (``http://127.0.0.1:PORT``)."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(sock, ready),
                                        name=self._name, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError(f"the {self._name} server did not start")
        return url

    def stop(self) -> bool:
        """Stop serving; False when the thread did not end within 10 s."""
        loop, thread = self.loop, self._thread
        ended = True
        if loop is not None and thread is not None:
            loop.call_soon_threadsafe(self._stop_in_loop)
            thread.join(timeout=10)
            ended = not thread.is_alive()
        self.loop = self._thread = None
        return ended

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` in the server's loop (from any thread), if it is running."""
        loop = self.loop
        if loop is not None and not loop.is_closed():
            loop.call_soon_threadsafe(callback)

    def _stop_in_loop(self) -> None:
        if self.stopping is not None:
            self.stopping.set()
        if self._on_stop is not None:
            self._on_stop()

    def _serve(self, sock: socket.socket, ready: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self.loop = loop
        try:
            loop.run_until_complete(self._main(sock, ready))
        finally:
            loop.close()

    async def _main(self, sock: socket.socket, ready: threading.Event) -> None:
        self.stopping = asyncio.Event()
        app = web.Application()
        self._setup(app)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True,
                               shutdown_timeout=self._shutdown_timeout)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        ready.set()
        await self.stopping.wait()
        if self._before_cleanup is not None:
            await self._before_cleanup()
        await runner.cleanup()
