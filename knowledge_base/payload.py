"""Rasa-style button payloads: ``/intent`` or ``/intent{"entity": "value"}``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

_PAYLOAD = re.compile(r"^/(?P<intent>[a-z][a-z0-9_]*)(?P<entities>\{.*\})?$", re.DOTALL)


@dataclass(frozen=True)
class Payload:
    intent: str
    entities: dict[str, str] = field(default_factory=dict)


def parse_payload(text: str) -> Payload:
    """Parse a payload; ValueError with a short reason when it is malformed."""
    match = _PAYLOAD.match(text.strip())
    if match is None:
        raise ValueError(
            f'bad payload {text!r}: expected "/intent" or \'/intent{{"entity": "value"}}\''
        )
    entities: dict[str, str] = {}
    if match["entities"]:
        try:
            raw = json.loads(match["entities"])
        except json.JSONDecodeError as exc:
            raise ValueError(
                f"bad payload {text!r}: the entities are not JSON ({exc.msg})"
            ) from exc
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in raw.items()):
            raise ValueError(f"bad payload {text!r}: entity names and values must be strings")
        entities = raw
    return Payload(match["intent"], entities)
