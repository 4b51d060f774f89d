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
    SUPERVISOR_JOINED = "supervisor_joined"
    GOODWILL_GRANTED = "goodwill_granted"
    RETURNED_TO_BOT = "returned_to_bot"
    CONVERSATION_CLOSED = "conversation_closed"
    RATING_QUESTION = "rating_question"
    RATING_INVALID = "rating_invalid"
    RATING_THANKS = "rating_thanks"
    # verified identity and personal answers (bot/personal_policy.py)
    VERIFY_OFFER = "verify_offer"
    VERIFY_OFFER_CONTACT = "verify_offer_contact"
    VERIFY_ASK_PHONE = "verify_ask_phone"
    VERIFY_PHONE_INVALID = "verify_phone_invalid"
    VERIFY_CODE_SENT = "verify_code_sent"
    VERIFY_CODE_LIMITED = "verify_code_limited"
    VERIFY_SMS_FAILED = "verify_sms_failed"
    VERIFY_CODE_WRONG = "verify_code_wrong"
    VERIFY_CODE_LOCKED = "verify_code_locked"
    VERIFY_CODE_EXPIRED = "verify_code_expired"
    VERIFY_ENTER_CODE = "verify_enter_code"
    VERIFY_DONE = "verify_done"
    VERIFY_CANCELLED = "verify_cancelled"
    VERIFY_BUTTON = "verify_button"
    NEW_CODE_BUTTON = "new_code_button"
    SHARE_PHONE_BUTTON = "share_phone_button"
    WHOAMI_VERIFIED = "whoami_verified"
    WHOAMI_UNKNOWN = "whoami_unknown"
    LOGOUT_DONE = "logout_done"
    LOGOUT_NOTHING = "logout_nothing"
    PERSONAL_UNAVAILABLE = "personal_unavailable"
    PERSONAL_NOT_FOUND = "personal_not_found"
    ROAMING_ON_BUTTON = "roaming_on_button"
    ROAMING_OFF_BUTTON = "roaming_off_button"
    ROAMING_KEEP_BUTTON = "roaming_keep_button"
    ROAMING_DONE_ON = "roaming_done_on"
    ROAMING_DONE_OFF = "roaming_done_off"
    ROAMING_NOT_CHANGED = "roaming_not_changed"
    ROAMING_KEPT = "roaming_kept"
    SMS_CODE = "sms_code"
    # the e-mail channel (channels/email): buttons become a numbered list
    EMAIL_REPLY_WITH_NUMBER = "email_reply_with_number"


PHRASE_KEYS: tuple[str, ...] = tuple(key.value for key in PhraseKey)
