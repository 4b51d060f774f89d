"""The identity dialogue and personal answers, pure: the real knowledge base, hand-made NLU
results, and the outside world (billing, SMS) as facts the test writes. End to end with Rasa,
the fake billing and the fake SMS gateway: tests/bot/test_identity_e2e.py."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import pytest

from bot.backoffice_contract import Money, SubscriberAccount
from bot.personal_policy import (
    AWAITING_CODE,
    AWAITING_PHONE,
    AWAITING_PHONE_OFFERED,
    AWAITING_ROAMING_ON,
    AccountLookup,
    NeedAccount,
    NeedCheck,
    NeedCode,
    NeedForget,
    NeedRoaming,
    PersonalFacts,
    format_money,
    is_action_payload,
)
from bot.policy import ConversationView, Decision, DialoguePolicy, Turn
from bot.verification import CodeCheck, CodeRequest
from knowledge_base import load_knowledge_base
from nlu import IntentScore, NluResult, intent_family

PHONE = "+375291234567"


@pytest.fixture(scope="module")
def policy() -> DialoguePolicy:
    return DialoguePolicy(load_knowledge_base())


def understood(intent: str, text: str = "...", lang: str = "ru") -> NluResult:
    return NluResult(text=text, intent=intent, family=intent_family(intent), confidence=0.95,
                     ranking=(IntentScore(intent, 0.95),), entities=(), lang=lang,
                     model_id="test")


def account(balance: str = "12.34", roaming: bool = False, tariff: str | None = "Smart"
            ) -> SubscriberAccount:
    return SubscriberAccount(msisdn=PHONE[1:], balance=Money(Decimal(balance), "BYN"),
                             tariff=tariff, roaming_enabled=roaming, status="active")


def after(view: ConversationView, decision: Decision, *, phone: str | None = None
          ) -> ConversationView:
    """The view of the next turn, as bot.conversations stores the decision."""
    return replace(view, awaiting=decision.awaiting, pending=decision.pending,
                   verified_phone=phone if phone is not None else view.verified_phone)


def texts(decision: Decision) -> str:
    return "\n".join(reply.text for reply in decision.replies)


def payloads(decision: Decision) -> list[str]:
    return [button.payload for reply in decision.replies for button in reply.buttons]


UNVERIFIED = ConversationView(state="bot", lang="ru")
VERIFIED = replace(UNVERIFIED, verified_phone=PHONE)


def test_unverified_balance_gets_the_general_article_and_an_offer_no_figure(
    policy: DialoguePolicy,
) -> None:
    turn, nlu = Turn("какой у меня баланс"), understood("check_balance")
    assert policy.needs(UNVERIFIED, turn, nlu) is None  # no billing call for a stranger
    decision = policy.decide(UNVERIFIED, turn, nlu)
    assert "*100#" in texts(decision)  # the general article
    assert "код" in texts(decision).lower()
    assert "BYN" not in texts(decision)
    assert decision.awaiting == AWAITING_PHONE_OFFERED and decision.pending == "check_balance"
    assert len(decision.replies) == 1, "one message: an e-mail subscriber gets one mail"


def test_an_ordinary_message_after_the_offer_is_an_ordinary_message(
    policy: DialoguePolicy,
) -> None:
    view = replace(UNVERIFIED, awaiting=AWAITING_PHONE_OFFERED, pending="check_balance")
    assert policy.needs(view, Turn("+375291234567"), None) == NeedCode(PHONE)
    decision = policy.decide(view, Turn("ываоы"), understood("nlu_fallback"))
    assert decision.misunderstandings == 1 and decision.awaiting is None


def test_the_whole_sms_flow_answers_the_first_question_after_the_code(
    policy: DialoguePolicy,
) -> None:
    balance = f"{random.randint(1, 9999)}.{random.randint(0, 99):02d}"
    first = policy.decide(UNVERIFIED, Turn("баланс"), understood("check_balance"))
    view = after(UNVERIFIED, first)

    number = Turn("+375 29 123-45-67")
    need = policy.needs(view, number, None)
    assert need == NeedCode(PHONE)
    sent = policy.decide(view, number, None, PersonalFacts(
        need, code_request=CodeRequest("sent"), code_ttl_minutes=5))
    assert "+375 29 123-45-67" in texts(sent) and "5" in texts(sent)
    assert sent.awaiting == AWAITING_CODE and sent.pending == "check_balance"
    view = after(view, sent)

    code = Turn("123 456")
    need = policy.needs(view, code, None)
    assert need == NeedCheck(then_account=True)
    done = policy.decide(view, code, None, PersonalFacts(
        need, code_check=CodeCheck("verified", phone=PHONE),
        account=AccountLookup("ok", account(balance))))
    assert done.redact_text
    assert format_money(Decimal(balance), "BYN", "ru") in texts(done)
    [message] = done.replies  # "подтверждён" and the figure, one message
    assert "подтверждён" in message.text
    assert done.awaiting is None and done.pending is None


@pytest.mark.parametrize("text", ["80291234567", "291234567", "мой номер +375 29 123 45 67"])
def test_numbers_in_common_forms_ask_for_a_code(policy: DialoguePolicy, text: str) -> None:
    view = replace(UNVERIFIED, awaiting=AWAITING_PHONE)
    assert policy.needs(view, Turn(text), None) == NeedCode(PHONE)


def test_garbage_instead_of_a_number_asks_again_and_keeps_the_question(
    policy: DialoguePolicy,
) -> None:
    view = replace(UNVERIFIED, awaiting=AWAITING_PHONE, pending="check_balance")
    turn = Turn("не помню")
    assert policy.needs(view, turn, understood("nlu_fallback")) is None
    decision = policy.decide(view, turn, understood("nlu_fallback"))
    assert decision.awaiting == AWAITING_PHONE and decision.pending == "check_balance"
    assert decision.escalate is None


def test_another_topic_while_a_number_is_awaited_is_answered_and_drops_the_step(
    policy: DialoguePolicy,
) -> None:
    view = replace(UNVERIFIED, awaiting=AWAITING_PHONE, pending="check_balance")
    decision = policy.decide(view, Turn("номера поддержки"), understood("support_contacts"))
    assert "0890" in texts(decision)
    assert decision.awaiting is None and decision.pending is None


@pytest.mark.parametrize(("check", "phrase_part", "awaiting"), [
    (CodeCheck("wrong", remaining=2), "2", AWAITING_CODE),
    (CodeCheck("locked"), "новый", None),
    (CodeCheck("expired"), "новый", None),
    (CodeCheck("no_code"), "новый", None),
])
def test_a_code_that_does_not_verify_gives_no_figure(
    policy: DialoguePolicy, check: CodeCheck, phrase_part: str, awaiting: str | None,
) -> None:
    view = replace(UNVERIFIED, awaiting=AWAITING_CODE, pending="check_balance")
    turn = Turn("654321")
    need = policy.needs(view, turn, None)
    decision = policy.decide(view, turn, None, PersonalFacts(need, code_check=check))  # type: ignore[arg-type]
    assert phrase_part in texts(decision)
    assert "BYN" not in texts(decision)
    assert decision.awaiting == awaiting
    assert decision.pending == "check_balance"  # still answered after a later success
    assert decision.redact_text


def test_limited_and_failed_requests_say_so_without_naming_the_subscriber_status(
    policy: DialoguePolicy,
) -> None:
    view = replace(UNVERIFIED, awaiting=AWAITING_PHONE, pending="check_balance")
    turn = Turn("+375291234567")
    need = policy.needs(view, turn, None)
    limited = policy.decide(view, turn, None, PersonalFacts(
        need, code_request=CodeRequest("limited", retry_after=timedelta(minutes=41))))  # type: ignore[arg-type]
    assert "41" in texts(limited) and limited.awaiting is None
    failed = policy.decide(view, turn, None, PersonalFacts(
        need, code_request=CodeRequest("failed")))  # type: ignore[arg-type]
    assert "SMS" in texts(failed)


@pytest.mark.parametrize(("lang", "amount", "shown"), [
    ("ru", "12.34", "12,34 BYN"), ("en", "12.34", "12.34 BYN"), ("be", "-3.5", "-3,50 BYN"),
])
def test_verified_balance_is_the_figure_in_the_language(
    policy: DialoguePolicy, lang: str, amount: str, shown: str,
) -> None:
    view = replace(VERIFIED, lang=lang)
    turn, nlu = Turn("balance", lang_hint=lang), understood("check_balance", lang=lang)
    need = policy.needs(view, turn, nlu)
    assert need == NeedAccount()
    decision = policy.decide(view, turn, nlu, PersonalFacts(
        need, account=AccountLookup("ok", account(amount))))
    assert shown in texts(decision)
    negative = amount.startswith("-")
    assert ("/check_balance_negative" in payloads(decision)) is negative


def test_billing_down_or_unknown_number_is_said_honestly_with_the_general_article(
    policy: DialoguePolicy,
) -> None:
    turn, nlu = Turn("баланс"), understood("check_balance")
    down = policy.decide(VERIFIED, turn, nlu, PersonalFacts(
        NeedAccount(), account=AccountLookup("unavailable")))
    assert "не отвечает" in texts(down) and "*100#" in texts(down) and "BYN" not in texts(down)
    unknown = policy.decide(VERIFIED, turn, nlu, PersonalFacts(
        NeedAccount(), account=AccountLookup("not_found")))
    assert "не нашёлся" in texts(unknown) and "BYN" not in texts(unknown)
    missing = policy.decide(VERIFIED, turn, nlu, None)  # the facts never came
    assert "BYN" not in texts(missing) and "*100#" in texts(missing)


def test_facts_found_for_another_need_are_never_shown(policy: DialoguePolicy) -> None:
    # an account fetched after a code check, handed to a turn that reads as a plain question
    stale = PersonalFacts(NeedCheck(then_account=True), account=AccountLookup("ok", account()))
    decision = policy.decide(VERIFIED, Turn("баланс"), understood("check_balance"), stale)
    assert "12,34" not in texts(decision) and "не отвечает" in texts(decision)


def test_own_number_needs_no_billing(policy: DialoguePolicy) -> None:
    turn, nlu = Turn("какой у меня номер"), understood("my_number")
    assert policy.needs(VERIFIED, turn, nlu) is None
    assert "+375 29 123-45-67" in texts(policy.decide(VERIFIED, turn, nlu))


def test_roaming_is_switched_only_after_its_confirmation_button(
    policy: DialoguePolicy,
) -> None:
    ask, nlu = Turn("включи роуминг"), understood("roaming_enable")
    need = policy.needs(VERIFIED, ask, nlu)
    assert need == NeedAccount()  # the state first; nothing switched yet
    question = policy.decide(VERIFIED, ask, nlu, PersonalFacts(
        need, account=AccountLookup("ok", account(roaming=False))))
    assert question.awaiting == AWAITING_ROAMING_ON
    yes = next(p for p in payloads(question) if '"on"' in p)
    assert is_action_payload(yes)
    view = after(VERIFIED, question)
    press = Turn("", payload=yes)
    need = policy.needs(view, press, None)
    assert need == NeedRoaming(True)
    done = policy.decide(view, press, None, PersonalFacts(need, roaming=True))
    assert "включён" in texts(done)
    failed = policy.decide(view, press, None, PersonalFacts(need, roaming=None))
    assert "ничего не изменилось" in texts(failed)
    # the same button pressed later, after other messages: asked again, not switched
    assert policy.needs(VERIFIED, press, None) == NeedAccount()
    keep = next(p for p in payloads(question) if '"keep"' in p)
    assert policy.needs(view, Turn("", payload=keep), None) is None


def test_roaming_already_on_asks_nothing(policy: DialoguePolicy) -> None:
    ask, nlu = Turn("включи роуминг"), understood("roaming_enable")
    decision = policy.decide(VERIFIED, ask, nlu, PersonalFacts(
        NeedAccount(), account=AccountLookup("ok", account(roaming=True))))
    assert "уже" in texts(decision) and decision.awaiting is None


def test_a_confirmation_button_from_someone_unverified_switches_nothing(
    policy: DialoguePolicy,
) -> None:
    press = Turn("", payload='/confirm_roaming{"enabled": "on"}')
    assert policy.needs(UNVERIFIED, press, None) is None
    decision = policy.decide(UNVERIFIED, press, None)
    assert decision.awaiting == AWAITING_PHONE_OFFERED and decision.pending == "roaming_enable"


@pytest.mark.parametrize("text", ["кто я", "Кто я?", "who am I", "хто я"])
def test_who_am_i(policy: DialoguePolicy, text: str) -> None:
    assert "+375 29 123-45-67" in texts(policy.decide(VERIFIED, Turn(text), None))
    assert "+375" not in texts(policy.decide(UNVERIFIED, Turn(text), None))


@pytest.mark.parametrize("text", ["выйти", "logout", "Забудь меня!", "выйсці"])
def test_logout_forgets(policy: DialoguePolicy, text: str) -> None:
    assert policy.needs(VERIFIED, Turn(text), None) == NeedForget()
    done = policy.decide(VERIFIED, Turn(text), None, PersonalFacts(NeedForget(), forgotten=True))
    assert "забыл" in texts(done)
    # the view is read after the forgetting: only the facts know there was something to forget
    assert "забыл" in texts(policy.decide(UNVERIFIED, Turn(text), None,
                                          PersonalFacts(NeedForget(), forgotten=True)))
    nothing = policy.decide(UNVERIFIED, Turn(text), None,
                            PersonalFacts(NeedForget(), forgotten=False))
    assert "нечего" in texts(nothing)


def test_cancel_ends_the_verification_step(policy: DialoguePolicy) -> None:
    view = replace(UNVERIFIED, awaiting=AWAITING_CODE, pending="check_balance")
    decision = policy.decide(view, Turn("отмена"), None)
    assert decision.awaiting is None and decision.pending is None


def test_telegram_offers_the_share_contact_button(policy: DialoguePolicy) -> None:
    view = replace(UNVERIFIED, can_share_contact=True)
    decision = policy.decide(view, Turn("баланс"), understood("check_balance"))
    assert decision.replies[-1].request_phone


def test_a_verified_contact_answers_the_pending_question(policy: DialoguePolicy) -> None:
    view = replace(VERIFIED, can_share_contact=True, pending="tariff")
    turn = Turn("", contact_verified=True)
    need = policy.needs(view, turn, None)
    assert need == NeedAccount()
    decision = policy.decide(view, turn, None, PersonalFacts(
        need, account=AccountLookup("ok", account(tariff="Демо Смарт"))))
    assert "Демо Смарт" in texts(decision)
    forwarded = policy.decide(replace(UNVERIFIED, pending="tariff"),
                              Turn("", contact_verified=False), None)
    assert "Демо" not in texts(forwarded)
