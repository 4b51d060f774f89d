"""The handoff's errors. The API layer turns them into HTTP answers; nothing else does.

Error tree::

    HandoffError                 something the desk cannot do
    ├── NotFound                 no such conversation / handoff / agent        (404)
    ├── Conflict                 the state does not allow it: already claimed,
    │                            already closed, not claimed yet               (409)
    ├── Forbidden                another agent owns it; agents only see their own (403)
    ├── InvalidCredentials       wrong username or password, or a bad token    (401)
    ├── RateLimited              too many failed logins; ``retry_after`` seconds (429)
    ├── Busy                     too many password checks at once; ``retry_after`` (503)
    └── AccountExists            ``agents create`` for a taken username
"""

from __future__ import annotations


class HandoffError(Exception):
    """Something the desk cannot do; the message is safe to show to an agent."""


class NotFound(HandoffError):
    pass


class Conflict(HandoffError):
    pass


class Forbidden(HandoffError):
    pass


class InvalidCredentials(HandoffError):
    pass


class RateLimited(HandoffError):
    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Busy(HandoffError):
    """Every password-check slot is taken and the short queue is full: come back soon."""

    def __init__(self, message: str, *, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AccountExists(HandoffError):
    pass
