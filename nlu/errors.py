"""Errors of the NLU client. One root, two leaves::

    NluError                 anything the NLU client raises on purpose
    ├── NluUnavailable       Rasa cannot be reached: connection refused or reset, timeouts and
    │                        5xx after all retries, no model loaded (409), or the circuit
    │                        breaker is open after repeated failures. Transient: the bot answers
    │                        "I cannot understand right now" or hands over to a person; the
    │                        message says how to start Rasa (``abonent nlu serve``) or point
    │                        ``RASA_URL`` at a running one.
    └── NluBadResponse       Rasa answered, but not usefully: a 4xx (401/403 means a wrong
                             token: check ``RASA_TOKEN``), or JSON that is not a parse result /
                             status. Retrying does not help; it is a configuration or version
                             problem.

Messages never contain the token.
"""

from __future__ import annotations

__all__ = ["NluBadResponse", "NluError", "NluUnavailable"]


class NluError(Exception):
    """Root of the NLU client's errors."""


class NluUnavailable(NluError):
    """Rasa cannot be reached now (after retries), or the circuit breaker is open."""


class NluBadResponse(NluError):
    """Rasa answered with a 4xx or with JSON we cannot read; retrying will not help."""
