"""Stop on SIGTERM and SIGINT in order, so that nothing the app started outlives it.

uvicorn's own signal handling (``Server.capture_signals``) re-raises the signal once its server
has shut down; SIGTERM's default action then kills the process on the spot, before any
``async with`` around the server has exited — the local Rasa server (~800 MB, in its own
session, so no signal reaches it) was left running and held its port. Here a signal asks the
running uvicorn server to shut down, or cancels the main task when nothing serves yet (Rasa's
40 s start-up); either way every context manager exits, and the command ends with the usual
``128 + signal`` exit code. With ``ABONENT_WORKERS`` the parent serves nothing itself: the
cancelled main task stops every worker (bot/workers.py), then the Rasa.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import uvicorn

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# how long open long polls (web chat pages, the desk's events) may hold a stop
GRACE_SECONDS = 5


class _Stoppable(Protocol):
    should_exit: bool
    force_exit: bool


class GracefulStop:
    """What a stop signal does right now: tell the server to exit, or cancel the main task."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._task: asyncio.Task[Any] | None = None
        self._server: _Stoppable | None = None

    @contextlib.contextmanager
    def serving(self, server: _Stoppable) -> Iterator[None]:
        self._server = server
        try:
            yield
        finally:
            self._server = None

    def on_signal(self, signum: int) -> None:
        first = self.received is None
        self.received = self.received or signum
        if self._server is not None:
            # as uvicorn does: a second signal stops waiting for open connections
            self._server.force_exit = self._server.should_exit
            self._server.should_exit = True
        elif self._task is not None and first:
            self._task.cancel()


def uvicorn_server(config: uvicorn.Config) -> uvicorn.Server:
    """A uvicorn server that leaves the signals to :func:`run`."""
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    return _Server(config)


def run(main: Callable[[GracefulStop], Coroutine[Any, Any, int | None]]) -> int:
    """``asyncio.run(main(stop))``; what it returns (None: 0), 128 + the signal when one
    stopped it."""
    stop = GracefulStop()
    code = 0

    async def guarded() -> None:
        nonlocal code
        loop = asyncio.get_running_loop()
        stop._task = asyncio.current_task()
        for signum in STOP_SIGNALS:
            with contextlib.suppress(NotImplementedError):  # no loop signal handlers (Windows)
                loop.add_signal_handler(signum, stop.on_signal, signum)
        try:
            code = await main(stop) or 0
        except asyncio.CancelledError:
            if stop.received is None:
                raise
        finally:
            for signum in STOP_SIGNALS:
                with contextlib.suppress(NotImplementedError):
                    loop.remove_signal_handler(signum)

    asyncio.run(guarded())
    return 128 + stop.received if stop.received else code
