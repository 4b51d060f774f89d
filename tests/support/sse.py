"""Reading a server-sent event stream in tests (the desk's queue, the monitor)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any


async def named_events(lines: AsyncIterator[str], name: str) -> AsyncIterator[dict[str, Any]]:
    """The events called ``name`` of a stream's lines, their data decoded from JSON."""
    event = None
    async for line in lines:
        if line.startswith("event:"):
            event = line.split(":", 1)[1].strip()
        elif line.startswith("data:") and event == name:
            yield json.loads(line.split(":", 1)[1])
