"""Human handoff: escalation with a context card, the agent queue and desk, ratings, stats.

``build_handoff`` (``handoff/build.py``) is what the composition root calls; the returned
:class:`HandoffExtension` has ``.hooks`` (the core's ``HandoffHooks``), ``.routers()`` (the desk
API and page) and ``.background()`` (start-up accounts, housekeeping).

Modules: ``tables``, ``desk_hooks`` (escalate / intercept), ``card`` (context card),
``queue`` + ``priority`` (order, position, wait estimate), ``desk`` (agent actions),
``views`` (queue and conversation as an agent sees them), ``stats`` (service level),
``auth`` + ``login_throttle`` (accounts, logins), ``sentiment`` + ``lexicon`` (negative messages),
``api`` + ``page`` + ``deps`` (HTTP), ``extension`` (what the app mounts), ``cli`` (``abonent agents``). Errors: ``errors``.

Importing the package (e.g. ``handoff.tables`` for migrations) loads no web routes: the public
names below are imported on first use.
"""

from __future__ import annotations

from typing import Any

__all__ = ["HandoffExtension", "build_handoff"]


def __getattr__(name: str) -> Any:
    if name == "HandoffExtension":
        from handoff.extension import HandoffExtension

        return HandoffExtension
    if name == "build_handoff":
        from handoff.build import build_handoff

        return build_handoff
    raise AttributeError(f"module 'handoff' has no attribute {name!r}")
