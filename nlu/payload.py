"""Button payloads in Rasa's syntax, ``/intent`` or ``/intent{"entity": "value"}``: the one parser.

The policy reads a pressed button with it; the knowledge base checks its buttons with it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_PAYLOAD = re.compile(r"^/(?P<intent>[a-z][a-z0-9_]{0,63})(?P<entities>\{.*\})?$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class Payload:
    intent: str
    entities: dict[str, str] = field(default_factory=dict)


def parse_payload(text: str) -> Payload:
    """Parse a payload; ValueError with a short reason when it is malformed."""
    match = _PAYLOAD.match(text.strip())
    if match is None:
        raise ValueError(
            f'bad payload {text[:80]!r}: expected "/intent" or \'/intent{{"entity": "value"}}\''
        )
    entities: dict[str, str] = {}
    if match["entities"]:
        try:
            raw = json.loads(match["entities"])
        except json.JSONDecodeError as exc:
            raise ValueError(f"bad payload: the entities are not JSON ({exc.msg})") from exc
        if not isinstance(raw, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
        ):
            raise ValueError("bad payload: entity names and values must be strings")
        entities = raw
    return Payload(match["intent"], entities)
