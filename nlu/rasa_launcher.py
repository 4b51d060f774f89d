"""Start ``rasa run`` with its auth token kept off the command line.

Run with the Rasa environment's Python and ``nlu/`` on ``PYTHONPATH``::

    ABONENT_RASA_TOKEN=... python -m rasa_launcher run --enable-api -m MODEL -i HOST -p PORT

The token comes from ``ABONENT_RASA_TOKEN`` and goes to Rasa's own command line parser through
an argument list built in memory. A real ``--auth-token`` argument would be readable by every
local user (``ps``, ``/proc/PID/cmdline``); a process's environment is readable only by its
owner, and assigning ``sys.argv`` does not change ``/proc/PID/cmdline``.

On Linux the server also asks the kernel for SIGTERM when the process that started it
(``ABONENT_RASA_PARENT``) dies, so an app killed with SIGKILL or crashed hard does not leave an
800 MB server behind.

This file runs inside Rasa's Python 3.10 environment: standard library only.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

TOKEN_VARIABLE = "ABONENT_RASA_TOKEN"
PARENT_VARIABLE = "ABONENT_RASA_PARENT"
_PR_SET_PDEATHSIG = 1  # from <sys/prctl.h>


def die_with_parent(parent: int) -> None:
    """SIGTERM us when ``parent`` exits (Linux only; elsewhere the parent's clean stop is all)."""
    if not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        return
    # The parent may have died before the request took effect; then no signal would ever come.
    if os.getppid() != parent:
        sys.exit("rasa_launcher: the process that started Rasa is gone")


def rasa_argv(args: list[str], token: str | None) -> list[str]:
    argv = ["rasa", *args]
    if token:
        # "=" form: a token may start with "-", which argparse would take for an option
        argv.append(f"--auth-token={token}")
    return argv


def main() -> None:
    parent = os.environ.pop(PARENT_VARIABLE, None)
    if parent:
        die_with_parent(int(parent))
    # popped so that nothing Rasa starts inherits it
    token = os.environ.pop(TOKEN_VARIABLE, None)
    sys.argv = rasa_argv(sys.argv[1:], token)
    from rasa.__main__ import main as rasa_main  # type: ignore[import-not-found]

    rasa_main()


if __name__ == "__main__":
    main()
