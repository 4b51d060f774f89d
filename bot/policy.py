"""The dialogue policy: given a conversation and one understood message, decide the replies.

It is pure (no I/O): :class:`bot.conversations.Conversations` feeds it the NLU result and writes
its :class:`Decision` to the database in one transaction.

While the NLU is down (``nlu is None`` for a message that is not a command or a button), the
subscriber gets an honest "I can't understand right now" with the support numbers and buttons,
and the failure counts as a misunderstanding; only the second in a row hands the conversation to
a person, so an outage does not flood the agents. (Plain keywords are still understood: the NLU
client falls back on them, see knowledge_base/keywords.py.)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from bot.messages import Button, OutboundMessage
from bot.personal_policy import Need, PersonalFacts, PersonalPolicy
from bot.phones import DEFAULT_REGION
from bot.reasons import Reason
from knowledge_base import Answer, KnowledgeBase, PhraseKey
from nlu import FALLBACK_INTENT, Entity, IntentScore, NluResult, intent_family
from nlu.languages import DEFAULT_LANG, LANGUAGES
from nlu.payload import parse_payload as parse_payload_syntax

_COMMANDS = {"/start": "greet", "/help": "help", "/operator": "human_request"}
# In a clarifying question, a sub-intent with at least this share of its family's summed
# confidence is offered itself rather than its family (see DialoguePolicy._clarify_guesses).
_DOMINANT_SHARE = 2 / 3

__all__ = [
    "ConversationView", "Decision", "DialoguePolicy", "Reason", "Turn",
    "parse_payload",
]


@dataclass(frozen=True, slots=True)
class ConversationView:
    """What the policy may know about a conversation."""

    state: str
    lang: str
    misunderstandings: int = 0
    awaiting: str | None = None
    verified_phone: str | None = None  # E.164, while the identity's verification lasts
    pending: str | None = None  # a personal question asked before verifying, answered after
    can_share_contact: bool = False  # the channel proves a shared phone (Telegram)


@dataclass(frozen=True, slots=True)
class Turn:
    """One inbound message as the policy sees it."""

    text: str
    payload: str | None = None
    attachments: tuple[str, ...] = ()
    lang_hint: str | None = None
    contact_verified: bool | None = None  # a shared phone: True when the platform proved it
    # A channel command ("/start", "/help", "/operator@MyBot") is understood without NLU; read
    # once here, so the NLU call and the policy agree on it.
    command: str | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.payload is None:
            word = self.text.strip().split("@", 1)[0].lower()
            object.__setattr__(self, "command", _COMMANDS.get(word))


@dataclass(slots=True)
class Decision:
    replies: list[OutboundMessage] = field(default_factory=list)
    lang: str = "ru"
    misunderstandings: int = 0
    awaiting: str | None = None
    escalate: str | None = None
    answered_by: str | None = None  # article id or phrase key, for analytics
    pending: str | None = None  # see ConversationView.pending; None forgets it
    redact_text: bool = False  # the message held a one-time code: keep no copy of its text


def parse_payload(payload: str, lang: str) -> NluResult | None:
    """``/intent`` or ``/intent{"entity": "value"}`` (Rasa's syntax) as a certain NLU result."""
    try:
        parsed = parse_payload_syntax(payload)
    except ValueError:
        return None
    entities = tuple(
        Entity(name=k, value=v, text=v, start=0, end=0, extractor="payload")
        for k, v in parsed.entities.items()
    )
    return NluResult.certain(payload, parsed.intent, entities, lang=lang, model_id="payload")


class DialoguePolicy:
    def __init__(
        self, kb: KnowledgeBase, *, clarify_floor: float = 0.2, region: str = DEFAULT_REGION
    ) -> None:
        """``region``: how phone numbers without a country code are read."""
        self._kb = kb
        self._clarify_floor = clarify_floor
        self._personal = PersonalPolicy(kb, region=region)

    def needs(self, convo: ConversationView, turn: Turn, nlu: NluResult | None) -> Need | None:
        """What the turn needs from outside (billing, SMS) before ``decide``; None: nothing."""
        if turn.command is not None:
            return None
        return self._personal.needs(convo, turn, nlu)

    def decide(
        self,
        convo: ConversationView,
        turn: Turn,
        nlu: NluResult | None,
        facts: PersonalFacts | None = None,
    ) -> Decision:
        """``nlu`` is None when the NLU server could not be reached (nor a keyword matched);
        ``facts``: what :class:`bot.personal.PersonalData` found for ``needs``."""
        lang = self.language(convo, turn, nlu)
        decision = Decision(lang=lang, misunderstandings=convo.misunderstandings)
        if turn.command is None:
            personal = self._personal.decide(convo, turn, nlu, facts, decision)
            if personal is not None:
                return personal
        if not turn.text.strip() and not turn.payload:
            return self._say(decision, PhraseKey.NON_TEXT, buttons=self._topic_buttons(lang))
        command = turn.command
        if command == "help":
            return self._say(decision, PhraseKey.CAPABILITIES, buttons=self._topic_buttons(lang))
        if command == "greet":
            return self._answer_intent(decision, "greet", {}, convo)
        if command == "human_request":
            return self._escalate(decision, Reason.SUBSCRIBER_REQUEST)
        if nlu is None:
            return self._nlu_down(decision)
        entities = nlu.entities_dict()
        if convo.awaiting and convo.awaiting in entities:
            # "в Польшу" after "where are you going?" continues the roaming topic.
            return self._answer_intent(decision, "roaming", entities, convo)
        if nlu.intent == FALLBACK_INTENT:
            return self._not_understood(decision, nlu)
        if nlu.family == "out_of_scope":
            decision.misunderstandings += 1
            if decision.misunderstandings >= 2:
                return self._escalate(decision, Reason.NOT_UNDERSTOOD)
            return self._answer_intent(decision, "out_of_scope", {}, convo, keep_count=True)
        if nlu.family == "human_request":
            return self._escalate(decision, Reason.SUBSCRIBER_REQUEST)
        return self._answer_intent(decision, nlu.intent, entities, convo)

    # -- the moves -------------------------------------------------------------------------

    def _answer_intent(
        self,
        decision: Decision,
        intent: str,
        entities: Mapping[str, str],
        convo: ConversationView,
        *,
        keep_count: bool = False,
    ) -> Decision:
        answer = self._kb.answer(intent, entities, decision.lang)  # the fine intent, then its family
        if answer is None:
            answer = self._kb.answer("out_of_scope", {}, decision.lang)
        if answer is None:  # a knowledge base without an out_of_scope article
            return self._say(decision, PhraseKey.CAPABILITIES, buttons=self._topic_buttons(decision.lang))
        self._add_answer(decision, answer)
        if not keep_count:
            decision.misunderstandings = 0
        if answer.needs_agent:
            return self._escalate(decision, Reason.NEEDS_AGENT)
        return decision

    def _not_understood(self, decision: Decision, nlu: NluResult) -> Decision:
        decision.misunderstandings += 1
        if decision.misunderstandings >= 2:
            return self._escalate(decision, Reason.NOT_UNDERSTOOD)
        guesses = self._clarify_guesses(nlu.ranking)
        if not guesses:
            return self._say(decision, PhraseKey.NOT_UNDERSTOOD, buttons=self._topic_buttons(decision.lang))
        buttons = [Button(self._kb.intent_label(name, decision.lang), f"/{name}") for name in guesses]
        buttons.append(Button(self._kb.intent_label("human_request", decision.lang),
                              "/human_request"))
        return self._say(decision, PhraseKey.CLARIFY, buttons=buttons)

    def _clarify_guesses(self, ranking: Sequence[IntentScore]) -> list[str]:
        """The (at most two) intents to offer: topic families by summed confidence.

        A model unsure between ``roaming_prices`` 0.15 and ``roaming_trouble`` 0.12 is sure it is
        roaming: the family's sum is what reaches the floor, and the family takes one button, not
        two. The button asks for the family (its overview article links to every sub-intent),
        unless one sub-intent holds most of the sum: then that sub-intent's own article answers
        better ("no service in roaming" gets the checklist, not the roaming overview).
        """
        total: dict[str, float] = {}
        best: dict[str, IntentScore] = {}
        for score in ranking:
            if not self._kb.is_topic(score.name):  # "a person" is offered after these, once
                continue
            family = intent_family(score.name)
            total[family] = total.get(family, 0.0) + score.confidence
            if family not in best or score.confidence > best[family].confidence:
                best[family] = score
        ranked = sorted(total, key=lambda f: total[f], reverse=True)  # stable: ties keep ranking order
        return [
            best[f].name if best[f].confidence >= _DOMINANT_SHARE * total[f] else f
            for f in ranked[:2]
            if total[f] >= self._clarify_floor
        ]

    def _nlu_down(self, decision: Decision) -> Decision:
        # Counted like any misunderstanding: "twice in a row" is the one rule for handing over.
        decision.misunderstandings += 1
        if decision.misunderstandings >= 2:
            return self._escalate(decision, Reason.NLU_UNAVAILABLE, phrase=PhraseKey.NLU_UNAVAILABLE)
        buttons = self._topic_buttons(decision.lang)
        buttons.append(Button(self._kb.intent_label("human_request", decision.lang),
                              "/human_request"))
        return self._say(decision, PhraseKey.NLU_DOWN_RETRY, buttons=buttons)

    def _escalate(
        self, decision: Decision, reason: Reason, *, phrase: PhraseKey | None = None
    ) -> Decision:
        if phrase:
            self._say(decision, phrase)
        decision.escalate = reason
        decision.awaiting = None
        return decision

    def _add_answer(self, decision: Decision, answer: Answer) -> None:
        buttons = tuple(Button(b.title, b.payload) for b in answer.buttons)
        decision.replies.append(OutboundMessage(text=answer.text, buttons=buttons))
        decision.awaiting = answer.asks
        decision.answered_by = answer.article_id

    def _say(
        self, decision: Decision, key: PhraseKey, *, buttons: list[Button] | None = None
    ) -> Decision:
        text = self._kb.phrase(key, decision.lang)
        decision.replies.append(OutboundMessage(text=text, buttons=tuple(buttons or ())))
        decision.answered_by = decision.answered_by or key
        return decision

    def _topic_buttons(self, lang: str) -> list[Button]:
        return [Button(self._kb.intent_label(t, lang), f"/{t}") for t in self._kb.topics]

    @staticmethod
    def language(convo: ConversationView, turn: Turn, nlu: NluResult | None) -> str:
        """The reply language: the channel's hint, else the text's, else the conversation's."""
        if turn.lang_hint in LANGUAGES:
            return turn.lang_hint
        if nlu is not None and turn.payload is None and any(c.isalpha() for c in turn.text):
            return nlu.lang
        return convo.lang if convo.lang in LANGUAGES else DEFAULT_LANG
