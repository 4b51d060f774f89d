"""Every system phrase key the code asks for (``kb.phrase(key, ...)``): the one list.

``kb check`` requires exactly these in ``phrases.yml``, so deleting one fails the check instead
of failing at run time; a test scans bot/, handoff/, channels/ and knowledge_base/ for keys used
in code and fails when one is missing here. Use the members at call sites
(``kb.phrase(PhraseKey.HANDOFF_WAITING, lang)``); a StrEnum member is the key string itself.
"""

from __future__ import annotations

from enum import StrEnum


class PhraseKey(StrEnum):
    # the dialogue policy (bot/policy.py)
    CAPABILITIES = "capabilities"
    CLARIFY = "clarify"
    NOT_UNDERSTOOD = "not_understood"
    NON_TEXT = "non_text"
    NLU_UNAVAILABLE = "nlu_unavailable"
    NLU_DOWN_RETRY = "nlu_down_retry"
    CONTACT_VERIFIED = "contact_verified"
    CONTACT_REFUSED = "contact_refused"
    # the conversation core (bot/conversations.py)
    PROCESSING_FAILED = "processing_failed"
    # the handoff (bot/handoff_contract.py, handoff/)
    HANDOFF_WAITING = "handoff_waiting"
    HANDOFF_ALREADY_WAITING = "handoff_already_waiting"
    HANDOFF_SORRY = "handoff_sorry"
    HANDOFF_LIMIT = "handoff_limit"
    CANCEL_BUTTON = "cancel_button"
    CANCELLED_HANDOFF = "cancelled_handoff"
    AGENT_JOINED = "agent_joined"
    RETURNED_TO_BOT = "returned_to_bot"
    CONVERSATION_CLOSED = "conversation_closed"
    RATING_QUESTION = "rating_question"
    RATING_INVALID = "rating_invalid"
    RATING_THANKS = "rating_thanks"
    # the e-mail channel (channels/email): buttons become a numbered list
    EMAIL_REPLY_WITH_NUMBER = "email_reply_with_number"


PHRASE_KEYS: tuple[str, ...] = tuple(key.value for key in PhraseKey)
