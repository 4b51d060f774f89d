"""The dialogue policy with the real knowledge base and hand-made NLU results (no Rasa)."""

from __future__ import annotations

import pytest

from bot.policy import ConversationView, DialoguePolicy, Reason, Turn, parse_payload
from knowledge_base import load_knowledge_base
from nlu import Entity, IntentScore, NluResult, intent_family


@pytest.fixture(scope="module")
def policy() -> DialoguePolicy:
    return DialoguePolicy(load_knowledge_base())


def understood(intent: str, confidence: float = 0.95, lang: str = "ru",
               ranking: list[tuple[str, float]] | None = None, **entities: str) -> NluResult:
    return NluResult(
        text="...",
        intent=intent,
        family=intent_family(intent),
        confidence=confidence,
        ranking=tuple(IntentScore(n, c) for n, c in (ranking or [(intent, confidence)])),
        entities=tuple(Entity(k, v, v, 0, len(v)) for k, v in entities.items()),
        lang=lang,
        model_id="test",
    )


BOT = ConversationView(state="bot", lang="ru")


def test_balance_question_gets_the_balance_article_in_russian(policy: DialoguePolicy) -> None:
    decision = policy.decide(BOT, Turn("какой у меня баланс"), understood("check_balance"))
    assert decision.escalate is None
    assert decision.answered_by is not None and "balance" in decision.answered_by
    assert decision.lang == "ru"
    assert any(ch in decision.replies[0].text for ch in "абвгд")


def test_roaming_trouble_with_country_names_it_and_the_abroad_number(
    policy: DialoguePolicy,
) -> None:
    decision = policy.decide(
        BOT, Turn("I'm in Poland and mobile data doesn't work"),
        understood("roaming_trouble", lang="en", country="Poland"),
    )
    text = decision.replies[0].text
    assert "Poland" in text
    assert "+375 29 7770890" in text


def test_roaming_without_country_asks_where_and_next_country_continues(
    policy: DialoguePolicy,
) -> None:
    first = policy.decide(BOT, Turn("роуминг"), understood("roaming"))
    assert first.awaiting == "country"
    view = ConversationView(state="bot", lang="ru", awaiting=first.awaiting)
    second = policy.decide(view, Turn("в Турцию"), understood("out_of_scope", 0.6, country="Turkey"))
    assert second.escalate is None
    assert "Турц" in second.replies[0].text
    assert second.awaiting is None


def test_out_of_scope_is_polite_and_twice_in_a_row_escalates(policy: DialoguePolicy) -> None:
    first = policy.decide(BOT, Turn("рецепт борща"), understood("out_of_scope"))
    assert first.escalate is None and first.misunderstandings == 1
    assert first.answered_by == "out_of_scope" or "out_of_scope" in (first.answered_by or "")
    assert first.replies[0].buttons, "it should offer what it can do"
    view = ConversationView(state="bot", lang="ru", misunderstandings=first.misunderstandings)
    second = policy.decide(view, Turn("а погода?"), understood("out_of_scope"))
    assert second.escalate == Reason.NOT_UNDERSTOOD


def test_low_confidence_asks_with_the_top_two_guesses(policy: DialoguePolicy) -> None:
    nlu = understood("nlu_fallback", 0.4,
                     ranking=[("roaming_prices", 0.4), ("check_balance", 0.3), ("greet", 0.2)])
    decision = policy.decide(BOT, Turn("цены там"), nlu)
    payloads = [b.payload for b in decision.replies[0].buttons]
    assert payloads[:2] == ["/roaming_prices", "/check_balance"]
    assert "/human_request" in payloads
    assert decision.misunderstandings == 1 and decision.escalate is None


def test_a_family_whose_summed_confidence_reaches_the_floor_is_offered(
    policy: DialoguePolicy,
) -> None:
    # no single intent reaches the 0.2 floor, but roaming's three sub-intents sum to 0.36
    nlu = understood("nlu_fallback", 0.15, ranking=[
        ("greet", 0.3), ("roaming_prices", 0.15), ("roaming_trouble", 0.12),
        ("check_balance", 0.1), ("roaming_status", 0.09),
    ])
    decision = policy.decide(BOT, Turn("там эта штука за границей"), nlu)
    assert decision.answered_by == "clarify"
    buttons = decision.replies[0].buttons
    assert [b.payload for b in buttons] == ["/roaming", "/human_request"]
    assert buttons[0].title == "Роуминг"  # the family's label: no sub-intent dominates


def test_two_sub_intents_of_one_family_take_one_button(policy: DialoguePolicy) -> None:
    nlu = understood("nlu_fallback", 0.35, lang="en", ranking=[
        ("roaming_prices", 0.35), ("roaming_trouble", 0.3), ("check_balance", 0.25),
    ])
    decision = policy.decide(BOT, Turn("roaming money thing"), nlu)
    buttons = decision.replies[0].buttons
    assert [b.payload for b in buttons] == ["/roaming", "/check_balance", "/human_request"]
    assert [b.title for b in buttons] == ["Roaming", "Balance", "Talk to a person"]


def test_a_dominant_sub_intent_is_offered_itself(policy: DialoguePolicy) -> None:
    # roaming_trouble holds 0.5 of roaming's 0.6: its own article (the checklist) answers best
    nlu = understood("nlu_fallback", 0.5, ranking=[
        ("roaming_trouble", 0.5), ("my_number", 0.3), ("roaming", 0.1), ("check_balance", 0.05),
    ])
    decision = policy.decide(BOT, Turn("за границей не ловит ничего"), nlu)
    buttons = decision.replies[0].buttons
    assert [b.payload for b in buttons] == ["/roaming_trouble", "/my_number", "/human_request"]
    assert buttons[0].title == "Не работает связь в роуминге"


def test_families_below_the_floor_leave_the_topic_buttons(policy: DialoguePolicy) -> None:
    nlu = understood("nlu_fallback", 0.1, ranking=[
        ("roaming_prices", 0.1), ("check_balance", 0.09), ("roaming_trouble", 0.09),
        ("human_request", 0.5),  # not a topic: never counted into a guess
    ])
    decision = policy.decide(BOT, Turn("ну"), nlu)
    assert decision.answered_by == "not_understood"
    assert "/human_request" not in [b.payload for b in decision.replies[0].buttons]


def test_second_misunderstanding_in_a_row_escalates(policy: DialoguePolicy) -> None:
    view = ConversationView(state="bot", lang="ru", misunderstandings=1)
    decision = policy.decide(view, Turn("ээ"), understood("nlu_fallback", 0.2))
    assert decision.escalate == Reason.NOT_UNDERSTOOD


def test_a_good_answer_resets_the_misunderstanding_count(policy: DialoguePolicy) -> None:
    view = ConversationView(state="bot", lang="ru", misunderstandings=1)
    decision = policy.decide(view, Turn("баланс"), understood("check_balance"))
    assert decision.misunderstandings == 0


def test_human_request_escalates(policy: DialoguePolicy) -> None:
    decision = policy.decide(BOT, Turn("позовите оператора"), understood("human_request"))
    assert decision.escalate == Reason.SUBSCRIBER_REQUEST


NUMBERS = ("0890", "*7777", "8 017 237-98-98", "+375 29 7770890")


def test_nlu_down_first_time_is_honest_gives_numbers_and_buttons_without_escalating(
    policy: DialoguePolicy,
) -> None:
    # Before issue #8 the first message while Rasa was down escalated at once (every subscriber
    # landed in the agents' queue); now the first one is answered honestly and counted.
    decision = policy.decide(BOT, Turn("ыыы"), None)
    assert decision.escalate is None
    assert decision.answered_by == "nlu_down_retry"
    assert decision.misunderstandings == 1
    text = decision.replies[0].text
    for number in NUMBERS:
        assert number in text
    payloads = [b.payload for b in decision.replies[0].buttons]
    assert payloads == [
        "/check_balance", "/my_number", "/roaming", "/support_contacts", "/human_request"
    ]


def test_nlu_down_second_failure_in_a_row_escalates(policy: DialoguePolicy) -> None:
    first = policy.decide(BOT, Turn("ыыы"), None)
    view = ConversationView(state="bot", lang="ru", misunderstandings=first.misunderstandings)
    second = policy.decide(view, Turn("ааа"), None)
    assert second.escalate == Reason.NLU_UNAVAILABLE
    assert second.answered_by == "nlu_unavailable"
    for number in NUMBERS:
        assert number in second.replies[0].text


def test_nlu_down_after_a_misunderstanding_escalates(policy: DialoguePolicy) -> None:
    # "twice in a row" is one rule, whatever the two failures were
    first = policy.decide(BOT, Turn("рецепт борща"), understood("out_of_scope"))
    view = ConversationView(state="bot", lang="ru", misunderstandings=first.misunderstandings)
    assert policy.decide(view, Turn("ыыы"), None).escalate == Reason.NLU_UNAVAILABLE


def test_an_answer_between_two_nlu_failures_starts_the_count_again(
    policy: DialoguePolicy,
) -> None:
    first = policy.decide(BOT, Turn("ыыы"), None)
    view = ConversationView(state="bot", lang="ru", misunderstandings=first.misunderstandings)
    # a keyword understood while Rasa is down (model_id "keywords") is an answer like any
    answered = policy.decide(view, Turn("баланс"), understood("check_balance"))
    assert answered.misunderstandings == 0 and answered.escalate is None
    view = ConversationView(state="bot", lang="ru", misunderstandings=answered.misunderstandings)
    assert policy.decide(view, Turn("ыыы"), None).escalate is None


def test_nlu_down_speaks_the_conversation_language(policy: DialoguePolicy) -> None:
    view = ConversationView(state="bot", lang="en")
    decision = policy.decide(view, Turn("zzz"), None)
    assert decision.lang == "en" and "can't understand" in decision.replies[0].text
    assert decision.replies[0].buttons[-1].title == "Talk to a person"


def test_asking_for_a_person_while_nlu_is_down_escalates_at_once(policy: DialoguePolicy) -> None:
    for turn in (Turn("/operator"), Turn("/operator@AbonentBot")):
        assert policy.decide(BOT, turn, None).escalate == Reason.SUBSCRIBER_REQUEST
    button = parse_payload("/human_request", "ru")
    decision = policy.decide(BOT, Turn("/human_request", payload="/human_request"), button)
    assert decision.escalate == Reason.SUBSCRIBER_REQUEST


def test_a_topic_button_works_without_nlu(policy: DialoguePolicy) -> None:
    button = parse_payload("/check_balance", "ru")
    assert button is not None and button.model_id == "payload"
    decision = policy.decide(BOT, Turn("/check_balance", payload="/check_balance"), button)
    assert decision.escalate is None
    assert decision.answered_by is not None and "balance" in decision.answered_by


def test_commands_work_without_nlu(policy: DialoguePolicy) -> None:
    assert policy.decide(BOT, Turn("/operator"), None).escalate == Reason.SUBSCRIBER_REQUEST
    help_reply = policy.decide(BOT, Turn("/help"), None)
    assert help_reply.escalate is None and help_reply.replies[0].buttons


def test_attachment_only_gets_the_text_only_answer(policy: DialoguePolicy) -> None:
    decision = policy.decide(BOT, Turn("", attachments=("photo",)), None)
    assert decision.escalate is None
    assert decision.answered_by == "non_text"


def test_english_question_is_answered_in_english(policy: DialoguePolicy) -> None:
    decision = policy.decide(BOT, Turn("what is my balance"), understood("check_balance", lang="en"))
    assert decision.lang == "en"
    assert not any("а" <= ch <= "я" for ch in decision.replies[0].text.lower())


def test_support_contacts_lists_the_landline_number(policy: DialoguePolicy) -> None:
    decision = policy.decide(BOT, Turn("как позвонить в поддержку с городского"),
                             understood("support_contacts"))
    assert "8 017 237-98-98" in decision.replies[0].text


@pytest.mark.parametrize(
    ("payload", "intent", "entities"),
    [
        ("/check_balance", "check_balance", {}),
        ('/roaming{"country": "Poland"}', "roaming", {"country": "Poland"}),
    ],
)
def test_payloads_parse(payload: str, intent: str, entities: dict[str, str]) -> None:
    parsed = parse_payload(payload, "ru")
    assert parsed is not None
    assert parsed.intent == intent and parsed.entities_dict() == entities


@pytest.mark.parametrize("payload", ["check_balance", "/Bad Intent", '/x{"a": ', "/x[1]"])
def test_bad_payloads_are_not_intents(payload: str) -> None:
    assert parse_payload(payload, "ru") is None
