"""The dialogue of verified identity and personal answers (#12), pure like the policy it serves.

Two steps, because a billing call or an SMS must not happen inside the database transaction
that stores the answer: ``needs`` says what the turn needs from outside (an account lookup, a
code sent or checked, roaming switched, a verification forgotten); :class:`bot.personal.
PersonalData` does it and returns :class:`PersonalFacts`; ``decide`` turns the facts into
replies. ``decide`` checks that the facts answer the need it finds itself, so facts never
meant for this turn are never shown.

What a subscriber can do, in any channel: ask for a personal topic (a knowledge-base intent
with ``personal: true`` variants: balance, own number, tariff, roaming status, roaming on/off),
give a number when asked, the 6-digit code from the SMS, "кто я", "выйти", "отмена"; on
Telegram also share their own contact. Rules that matter:

- nothing personal is said to anyone unverified: they get the general article and an offer to
  verify, and the question is answered right after the verification without asking again;
- before the code is entered no reply tells whether a number is the operator's subscriber;
- roaming is switched only after a confirmation question answered with its own button;
- with the billing down or the number unknown there, the answer says so honestly and gives the
  general article: never an invented figure.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Literal

from bot.backoffice_contract import SubscriberAccount
from bot.messages import Button, OutboundMessage
from bot.phones import DEFAULT_REGION, format_phone, normalise_phone
from bot.verification import CodeCheck, CodeRequest, extract_code
from knowledge_base import KnowledgeBase, PhraseKey
from nlu import FALLBACK_INTENT, NluResult
from nlu.payload import parse_payload as parse_payload_syntax

if TYPE_CHECKING:
    from bot.policy import ConversationView, Decision, Turn

AWAITING_PHONE = "phone"  # asked for a number ("подтвердить номер"): anything else is re-asked
AWAITING_PHONE_OFFERED = "phone_offered"  # offered after a personal question: a number is
# taken, anything else is an ordinary message
AWAITING_CODE = "code"
AWAITING_ROAMING_ON = "roaming_on"  # a "turn roaming on?" question waits for its button
AWAITING_ROAMING_OFF = "roaming_off"
VERIFICATION_STEPS = (AWAITING_PHONE, AWAITING_CODE)  # insisted on, with a "cancel" button
TAKES_A_NUMBER = (AWAITING_PHONE, AWAITING_PHONE_OFFERED, AWAITING_CODE)

# button payloads (not NLU intents: no family, never sent to Rasa)
VERIFY_PAYLOAD = "/identity_verify"
CONFIRM_ROAMING = "confirm_roaming"
_PAYLOAD_COMMANDS = {
    VERIFY_PAYLOAD: "verify",
    "/identity_whoami": "whoami",
    "/identity_logout": "logout",
    "/identity_cancel": "cancel",
}
ROAMING_ACTIONS = {"roaming_enable": True, "roaming_disable": False}
_CENT = Decimal("0.01")


# -- what a turn needs from outside ------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class NeedAccount:
    """The verified subscriber's account from the billing."""


@dataclass(frozen=True, slots=True)
class NeedCode:
    """Send a one-time code to ``phone`` (E.164)."""

    phone: str


@dataclass(frozen=True, slots=True)
class NeedCheck:
    """Check the code in the message; then, when verified, the account (``then_account``)."""

    then_account: bool


@dataclass(frozen=True, slots=True)
class NeedRoaming:
    enabled: bool


@dataclass(frozen=True, slots=True)
class NeedForget:
    """End the verification ("выйти")."""


Need = NeedAccount | NeedCode | NeedCheck | NeedRoaming | NeedForget


@dataclass(frozen=True, slots=True)
class AccountLookup:
    """``ok`` with the account, ``not_found`` (not the operator's number) or ``unavailable``."""

    status: Literal["ok", "not_found", "unavailable"]
    account: SubscriberAccount | None = None


@dataclass(frozen=True, slots=True)
class PersonalFacts:
    """What :class:`bot.personal.PersonalData` found for ``need``."""

    need: Need
    account: AccountLookup | None = None
    code_request: CodeRequest | None = None
    code_check: CodeCheck | None = None
    roaming: bool | None = None  # the state the billing reports after switching; None: failed
    forgotten: bool = False  # a verification was ended by this turn
    code_ttl_minutes: int = 5


_RoamingAnswer = Literal["on", "off", "keep"]
_ROAMING_ANSWERS: tuple[_RoamingAnswer, ...] = ("on", "off", "keep")


@dataclass(frozen=True, slots=True)
class _Roaming:
    answer: _RoamingAnswer


# -- the policy ----------------------------------------------------------------------------------

class PersonalPolicy:
    def __init__(self, kb: KnowledgeBase, *, region: str = DEFAULT_REGION) -> None:
        """``region``: how numbers without a country code are read (PHONE_DEFAULT_REGION)."""
        self.kb = kb
        self.region = region

    def needs(self, view: ConversationView, turn: Turn, nlu: NluResult | None) -> Need | None:
        command = self.command(turn)
        if command == "logout":
            # always: the facts say whether there was anything to forget (the view read after
            # the forgetting no longer can)
            return NeedForget()
        if command is not None:
            return None
        roaming = _roaming_answer(turn.payload)
        if roaming is not None:
            if roaming.answer == "keep" or not view.verified_phone:
                return None
            if view.awaiting != _awaiting_for(roaming.answer == "on"):
                return NeedAccount()  # a stale button: ask again with the current state
            return NeedRoaming(roaming.answer == "on")
        if turn.contact_verified:
            pending = view.pending
            wants = pending is not None and self._needs_account(pending)
            return NeedAccount() if wants and view.verified_phone else None
        if view.awaiting in TAKES_A_NUMBER and turn.payload is None:
            if view.awaiting == AWAITING_CODE and extract_code(turn.text) is not None:
                pending = view.pending
                return NeedCheck(then_account=pending is not None and self._needs_account(pending))
            phone = normalise_phone(turn.text, region=self.region)
            if phone is not None:
                return NeedCode(phone)
        intent = self._personal_intent(nlu)
        if intent is not None and view.verified_phone and self._needs_account(intent):
            return NeedAccount()
        return None

    def command(self, turn: Turn) -> str | None:
        if turn.payload is not None:
            return _PAYLOAD_COMMANDS.get(turn.payload.strip())
        return self.kb.command(turn.text)

    def decide(
        self,
        view: ConversationView,
        turn: Turn,
        nlu: NluResult | None,
        facts: PersonalFacts | None,
        decision: Decision,
    ) -> Decision | None:
        """The replies for an identity or personal turn; None when the turn is none of these
        (the general policy answers it). Any of these was understood: the count of
        misunderstandings in a row starts again."""
        answered = self._decide(view, turn, nlu, facts, decision)
        if answered is not None:
            answered.misunderstandings = 0
        return answered

    def _decide(
        self,
        view: ConversationView,
        turn: Turn,
        nlu: NluResult | None,
        facts: PersonalFacts | None,
        decision: Decision,
    ) -> Decision | None:
        need = self.needs(view, turn, nlu)
        if facts is not None and facts.need != need:
            facts = None  # found for another reading of the turn: never shown
        command = self.command(turn)
        if command is not None:
            return self._command(command, view, facts, decision)
        roaming = _roaming_answer(turn.payload)
        if roaming is not None:
            return self._roaming_answer(roaming, view, facts, decision)
        if turn.contact_verified is not None:
            if not turn.contact_verified:
                return self._say(decision, PhraseKey.CONTACT_REFUSED, keep=view)
            self._say(decision, PhraseKey.CONTACT_VERIFIED)
            return self._after_verification(view, facts, decision)
        if view.awaiting == AWAITING_CODE and isinstance(need, NeedCheck):
            return self._code_checked(view, facts, decision)
        if view.awaiting in TAKES_A_NUMBER and isinstance(need, NeedCode):
            return self._code_requested(view, facts, decision)
        if (view.awaiting in VERIFICATION_STEPS and turn.payload is None
                and not self._is_topic(nlu)):
            key = (PhraseKey.VERIFY_ENTER_CODE if view.awaiting == AWAITING_CODE
                   else PhraseKey.VERIFY_PHONE_INVALID)
            return self._say(decision, key, keep=view, buttons=[self._cancel_button(decision)])
        # a topic (maybe while a verification step waited: they moved on, the step is dropped)
        intent = self._personal_intent(nlu)
        if intent is None:
            return None
        if not view.verified_phone:
            return self._offer(view, intent, decision)
        return self._personal(view, intent, facts, decision)

    # -- the moves -------------------------------------------------------------------------------

    def _command(self, command: str, view: ConversationView, facts: PersonalFacts | None,
                 decision: Decision) -> Decision:
        if command == "whoami":
            if view.verified_phone:
                return self._say(decision, PhraseKey.WHOAMI_VERIFIED,
                                 phone=format_phone(view.verified_phone))
            return self._say(decision, PhraseKey.WHOAMI_UNKNOWN,
                             buttons=[self._verify_button(decision)])
        if command == "logout":
            if facts is not None and facts.forgotten:
                return self._say(decision, PhraseKey.LOGOUT_DONE)
            return self._say(decision, PhraseKey.LOGOUT_NOTHING)
        if command == "verify":
            return self._ask_phone(view, view.pending, decision,
                                   phrase=PhraseKey.VERIFY_ASK_PHONE)
        # cancel
        if view.awaiting in VERIFICATION_STEPS:
            return self._say(decision, PhraseKey.VERIFY_CANCELLED, buttons=self._topics(decision))
        return self._say(decision, PhraseKey.CAPABILITIES, buttons=self._topics(decision))

    def _offer(self, view: ConversationView, intent: str, decision: Decision) -> Decision:
        general = self.kb.answer(intent, {}, decision.lang)
        if general is not None:
            _add(decision, _message(general.text, [
                Button(b.title, b.payload) for b in general.buttons
            ]))
            decision.answered_by = general.article_id
        self._ask_phone(
            view, intent, decision,
            phrase=(PhraseKey.VERIFY_OFFER_CONTACT if view.can_share_contact
                    else PhraseKey.VERIFY_OFFER),
            cancel=False,
        )
        decision.awaiting = AWAITING_PHONE_OFFERED
        return decision

    def _ask_phone(self, view: ConversationView, pending: str | None, decision: Decision, *,
                   phrase: PhraseKey, cancel: bool = True) -> Decision:
        key = phrase
        if view.can_share_contact and key == PhraseKey.VERIFY_ASK_PHONE:
            key = PhraseKey.VERIFY_OFFER_CONTACT
        text = self.kb.phrase(key, decision.lang)
        label = self.kb.phrase(PhraseKey.SHARE_PHONE_BUTTON, decision.lang)
        _add(decision, OutboundMessage(
            text=text,
            buttons=(self._cancel_button(decision),) if cancel else (),
            request_phone=view.can_share_contact,
            metadata={"request_phone_label": label} if view.can_share_contact else {},
        ))
        decision.answered_by = decision.answered_by or key
        decision.awaiting = AWAITING_PHONE
        decision.pending = pending
        return decision

    def _code_requested(self, view: ConversationView, facts: PersonalFacts | None,
                        decision: Decision) -> Decision:
        request = facts.code_request if facts is not None else None
        if request is None or request.status == "failed":
            return self._say(decision, PhraseKey.VERIFY_SMS_FAILED,
                             buttons=[self._verify_button(decision)], pending=view.pending)
        if request.status == "limited":
            seconds = request.retry_after.total_seconds() if request.retry_after else 60
            return self._say(decision, PhraseKey.VERIFY_CODE_LIMITED,
                             minutes=max(1, -(-int(seconds) // 60)), pending=view.pending)
        assert facts is not None and isinstance(facts.need, NeedCode)
        self._say(decision, PhraseKey.VERIFY_CODE_SENT, phone=format_phone(facts.need.phone),
                  minutes=facts.code_ttl_minutes, buttons=[self._cancel_button(decision)])
        decision.awaiting = AWAITING_CODE
        decision.pending = view.pending
        return decision

    def _code_checked(self, view: ConversationView, facts: PersonalFacts | None,
                      decision: Decision) -> Decision:
        check = facts.code_check if facts is not None else None
        decision.redact_text = True  # a code, even a wrong one, never stays in the transcript
        if check is None or check.status in ("expired", "no_code"):
            return self._say(decision, PhraseKey.VERIFY_CODE_EXPIRED,
                             buttons=[self._new_code_button(decision)], pending=view.pending)
        if check.status == "locked":
            return self._say(decision, PhraseKey.VERIFY_CODE_LOCKED,
                             buttons=[self._new_code_button(decision)], pending=view.pending)
        if check.status in ("wrong", "not_a_code"):
            self._say(decision, PhraseKey.VERIFY_CODE_WRONG, remaining=check.remaining,
                      buttons=[self._cancel_button(decision)], keep=view)
            return decision
        assert check.phone is not None
        self._say(decision, PhraseKey.VERIFY_DONE, phone=format_phone(check.phone))
        verified = _with_phone(view, check.phone)
        return self._after_verification(verified, facts, decision)

    def _after_verification(self, view: ConversationView, facts: PersonalFacts | None,
                            decision: Decision) -> Decision:
        """Answer the question asked before the verification, without asking again."""
        pending = view.pending
        if pending is None or not view.verified_phone:
            decision.replies[-1] = _with_buttons(decision.replies[-1], self._topics(decision))
            return decision
        return self._personal(view, pending, facts, decision)

    def _personal(self, view: ConversationView, intent: str, facts: PersonalFacts | None,
                  decision: Decision) -> Decision:
        assert view.verified_phone is not None
        values = {"number": format_phone(view.verified_phone)}
        account: SubscriberAccount | None = None
        if self._needs_account(intent):
            lookup = facts.account if facts is not None else None
            if lookup is None or lookup.status == "unavailable":
                return self._general(decision, intent, phrase=PhraseKey.PERSONAL_UNAVAILABLE)
            if lookup.status == "not_found" or lookup.account is None:
                return self._general(decision, intent, phrase=PhraseKey.PERSONAL_NOT_FOUND,
                                     phone=values["number"])
            account = lookup.account
            values.update(_account_values(account, decision.lang))
        answer = self.kb.personal_answer(intent, values, decision.lang)
        if answer is None:  # e.g. a tariff the billing does not name: the general article
            return self._general(decision, intent, phrase=None)
        buttons = [Button(b.title, b.payload) for b in answer.buttons]
        action = ROAMING_ACTIONS.get(intent)
        if action is not None and account is not None and account.roaming_enabled != action:
            buttons = self._roaming_buttons(decision, action)
            decision.awaiting = _awaiting_for(action)
        _add(decision, _message(answer.text, buttons))
        decision.answered_by = answer.article_id
        return decision

    def _roaming_answer(self, roaming: _Roaming, view: ConversationView,
                        facts: PersonalFacts | None, decision: Decision) -> Decision:
        if roaming.answer == "keep":
            return self._say(decision, PhraseKey.ROAMING_KEPT, buttons=self._topics(decision))
        intent = "roaming_enable" if roaming.answer == "on" else "roaming_disable"
        if not view.verified_phone:
            return self._offer(view, intent, decision)
        if facts is None or not isinstance(facts.need, NeedRoaming):
            return self._personal(view, intent, facts, decision)  # asked again, fresh state
        if facts.roaming is None or facts.roaming != facts.need.enabled:
            return self._say(decision, PhraseKey.ROAMING_NOT_CHANGED)
        key = PhraseKey.ROAMING_DONE_ON if facts.roaming else PhraseKey.ROAMING_DONE_OFF
        return self._say(decision, key, phone=format_phone(view.verified_phone))

    def _general(self, decision: Decision, intent: str, *, phrase: PhraseKey | None,
                 phone: str | None = None) -> Decision:
        if phrase is not None:
            self._say(decision, phrase, phone=phone)
        general = self.kb.answer(intent, {}, decision.lang)
        if general is not None:
            _add(decision, _message(general.text, [
                Button(b.title, b.payload) for b in general.buttons
            ]))
            decision.answered_by = general.article_id
        return decision

    # -- helpers -------------------------------------------------------------------------------

    def _say(self, decision: Decision, key: PhraseKey, *, buttons: list[Button] | None = None,
             keep: ConversationView | None = None, pending: str | None = None,
             **variables: object) -> Decision:
        """Add a phrase; ``keep``: stay in the view's verification step (and its pending
        question); ``pending``: remember the question for a later verification."""
        text = self.kb.phrase(key, decision.lang, **variables)
        _add(decision, _message(text, buttons or []))
        decision.answered_by = decision.answered_by or key
        if keep is not None:
            decision.awaiting = keep.awaiting
            decision.pending = keep.pending
        elif pending is not None:
            decision.pending = pending
        return decision

    def _personal_intent(self, nlu: NluResult | None) -> str | None:
        if nlu is None or nlu.intent == FALLBACK_INTENT:
            return None
        return nlu.intent if self.kb.personal_facts(nlu.intent) else None

    def _needs_account(self, intent: str) -> bool:
        return bool(self.kb.personal_facts(intent) - {"number"})

    def _is_topic(self, nlu: NluResult | None) -> bool:
        """Whether the subscriber moved on to something else: a topic, or asking for a person."""
        if nlu is None or nlu.intent == FALLBACK_INTENT or nlu.family == "out_of_scope":
            return False
        return self.kb.is_topic(nlu.intent) or nlu.family == "human_request"

    def _topics(self, decision: Decision) -> list[Button]:
        return [Button(self.kb.intent_label(t, decision.lang), f"/{t}") for t in self.kb.topics]

    def _verify_button(self, decision: Decision) -> Button:
        return Button(self.kb.phrase(PhraseKey.VERIFY_BUTTON, decision.lang), VERIFY_PAYLOAD)

    def _new_code_button(self, decision: Decision) -> Button:
        return Button(self.kb.phrase(PhraseKey.NEW_CODE_BUTTON, decision.lang), VERIFY_PAYLOAD)

    def _cancel_button(self, decision: Decision) -> Button:
        return Button(self.kb.phrase(PhraseKey.CANCEL_BUTTON, decision.lang), "/identity_cancel")

    def _roaming_buttons(self, decision: Decision, enable: bool) -> list[Button]:
        yes = PhraseKey.ROAMING_ON_BUTTON if enable else PhraseKey.ROAMING_OFF_BUTTON
        answer = "on" if enable else "off"
        return [
            Button(self.kb.phrase(yes, decision.lang),
                   f'/{CONFIRM_ROAMING}{{"enabled": "{answer}"}}'),
            Button(self.kb.phrase(PhraseKey.ROAMING_KEEP_BUTTON, decision.lang),
                   f'/{CONFIRM_ROAMING}{{"enabled": "keep"}}'),
        ]


def format_money(amount: Decimal, currency: str, lang: str) -> str:
    """``Decimal("12.3")`` -> "12,30 BYN" (ru, be) or "12.30 BYN" (en)."""
    text = f"{amount.quantize(_CENT, rounding=ROUND_HALF_UP):.2f}"
    return f"{text if lang == 'en' else text.replace('.', ',')} {currency}"


def is_action_payload(payload: str | None) -> bool:
    """Payloads of this module's buttons: understood here, never sent to the NLU."""
    if payload is None:
        return False
    return payload.strip() in _PAYLOAD_COMMANDS or _roaming_answer(payload) is not None


def _account_values(account: SubscriberAccount, lang: str) -> dict[str, str]:
    return {
        "balance": format_money(account.balance.amount, account.balance.currency, lang),
        "tariff": account.tariff or "",
        "negative_balance": "yes" if account.balance.amount < 0 else "",
        "roaming_on": "yes" if account.roaming_enabled else "",
        "roaming_off": "" if account.roaming_enabled else "yes",
    }


def _roaming_answer(payload: str | None) -> _Roaming | None:
    if not payload or CONFIRM_ROAMING not in payload:
        return None
    try:
        parsed = parse_payload_syntax(payload)
    except ValueError:
        return None
    answer = parsed.entities.get("enabled")
    if parsed.intent != CONFIRM_ROAMING:
        return None
    for known in _ROAMING_ANSWERS:
        if answer == known:
            return _Roaming(known)
    return None


def _awaiting_for(enable: bool) -> str:
    return AWAITING_ROAMING_ON if enable else AWAITING_ROAMING_OFF


def _add(decision: Decision, message: OutboundMessage) -> None:
    """One turn, one message: what this module says in a turn ("Готово, номер подтверждён" and
    the balance; the general article and the offer) goes out as one message, so an e-mail
    subscriber gets one mail and a chat one bubble with all its buttons."""
    if not decision.replies:
        decision.replies.append(message)
        return
    last = decision.replies[-1]
    decision.replies[-1] = OutboundMessage(
        text=f"{last.text.rstrip()}\n\n{message.text.lstrip()}",
        buttons=last.buttons + message.buttons,
        request_phone=last.request_phone or message.request_phone,
        metadata={**last.metadata, **message.metadata},
    )


def _message(text: str, buttons: list[Button]) -> OutboundMessage:
    return OutboundMessage(text=text, buttons=tuple(buttons))


def _with_buttons(message: OutboundMessage, buttons: list[Button]) -> OutboundMessage:
    return OutboundMessage(text=message.text, buttons=tuple(buttons), metadata=message.metadata)


def _with_phone(view: ConversationView, phone: str) -> ConversationView:
    return replace(view, verified_phone=phone)
