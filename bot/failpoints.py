"""Failpoints: named places where a test can make the process die, to prove crash safety.

Set ``ABONENT_FAILPOINT=<name>`` and the process exits abruptly (no clean-up, like a kill -9)
the first time it reaches that point. Unset, a failpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os

AFTER_ACCEPT = "after_accept"  # inbound stored and committed, not yet answered
AFTER_ANSWER_STORED = "after_answer_stored"  # web chat: message + answer committed, not returned
BEFORE_SENT = "before_sent"  # reply delivered by the channel, not yet marked sent


def hit(name: str) -> None:
    if os.environ.get("ABONENT_FAILPOINT") == name:
        os._exit(75)
