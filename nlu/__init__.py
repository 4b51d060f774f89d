"""The NLU side of Abonent: the Rasa project (config.yml, domain.yml, data/) and the client the
app uses to reach the Rasa server over HTTP (cache, retries, circuit breaker, language), or a
pool of Rasa servers (``RASA_URL`` with several URLs: :mod:`nlu.pool`).

Nothing here imports ``rasa``, nor any other part of Abonent: the server runs in its own
environment, and this package owns the facts the others read (intents, languages, payloads).
"""

from __future__ import annotations

from nlu.breaker import BreakerState, CircuitBreaker
from nlu.cache import ParseCache, normalise_text
from nlu.client import NluClient, ServerState
from nlu.errors import NluBadResponse, NluError, NluUnavailable
from nlu.evaluation import EvalReport, EvalRow, evaluate, load_eval_file
from nlu.lang import detect_language
from nlu.languages import LANGUAGES, Lang
from nlu.pool import Upstream, parse_server_urls
from nlu.results import (
    FALLBACK_INTENT,
    FAMILIES,
    KEYWORDS_MODEL_ID,
    Entity,
    IntentScore,
    KeywordFallback,
    NluResult,
    intent_family,
)

__all__ = [
    "FALLBACK_INTENT",
    "FAMILIES",
    "KEYWORDS_MODEL_ID",
    "LANGUAGES",
    "BreakerState",
    "CircuitBreaker",
    "Entity",
    "EvalReport",
    "EvalRow",
    "IntentScore",
    "KeywordFallback",
    "Lang",
    "NluBadResponse",
    "NluClient",
    "NluError",
    "NluResult",
    "NluUnavailable",
    "ParseCache",
    "ServerState",
    "Upstream",
    "detect_language",
    "evaluate",
    "intent_family",
    "load_eval_file",
    "normalise_text",
    "parse_server_urls",
]
