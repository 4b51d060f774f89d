"""Sentiment of a subscriber's message for ru/en/be: enough to spot a furious subscriber.

:func:`analyse` is what the bot uses: the classifier of :mod:`handoff.sentiment_model` (trained
on project-written messages) gives the mood, and the message is *strongly negative* when the
classifier or the lexicon says so. On the evaluation set (``scripts/eval_sentiment.py
nlu/eval/sentiment.tsv``) that measured best: the same strong precision as either alone, more
recall than either, and far better moods than the lexicon. :func:`lexicon_analyse` is the
lexicon alone (one of the classifier's features, and the cues shown on the card):

Each word of the lexicon has a weight (-4 .. +3); a negator ("не", "not") just before a word
flips it (a negated complaint counts half, as mildly positive), an intensifier ("очень",
"very") multiplies it by 1.5, and a negative message gets one more point off for "!!" and one
for SHOUTING. The sum is the score: ``-4`` or lower is *strongly negative* (the bot hands
the conversation to a person, with a higher queue priority).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from handoff.lexicon import Lexicon, load_lexicon, normalise

if TYPE_CHECKING:  # the model module imports this one
    from handoff.sentiment_model import Prediction

STRONGLY_NEGATIVE = -4.0
_TOKEN = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*", re.UNICODE)
_WINDOW = 2  # how many words back a negator or an intensifier reaches


class Label:
    STRONGLY_NEGATIVE = "strongly_negative"
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


@dataclass(frozen=True, slots=True)
class Sentiment:
    score: float
    label: str
    cues: tuple[str, ...] = ()  # the words that counted, for the context card

    @property
    def strongly_negative(self) -> bool:
        return self.label == Label.STRONGLY_NEGATIVE

    def to_dict(self) -> dict[str, object]:
        return {"score": self.score, "label": self.label, "cues": list(self.cues)}


NEUTRAL = Sentiment(0.0, Label.NEUTRAL)


def label_for(score: float) -> str:
    if score <= STRONGLY_NEGATIVE:
        return Label.STRONGLY_NEGATIVE
    if score <= -2:
        return Label.NEGATIVE
    if score >= 2:
        return Label.POSITIVE
    return Label.NEUTRAL


def analyse(text: str, lexicon: Lexicon | None = None) -> Sentiment:
    """The classifier's mood, strongly negative by the classifier or the lexicon; the score keeps the lexicon's scale (see :func:`label_for`:
    <= -4 strongly negative, <= -2 negative, >= 2 positive), so the monitor's trend line and the
    queue priority read it as before; the cues are the lexicon's words, else the classifier's."""
    if not text.strip():
        return NEUTRAL
    if lexicon is not None:
        return _classified(text, lexicon)
    return _cached(text)


@lru_cache(maxsize=4096)  # the analytics page scores the same texts again and again
def _cached(text: str) -> Sentiment:
    return _classified(text, load_lexicon())


def analyse_many(texts: Sequence[str]) -> list[Sentiment]:
    """:func:`analyse` of each text, with one model call for them all: the analytics page
    scores a whole period's messages, and the classifier costs about 3 ms a call but 0.2 ms a
    text in a batch."""
    from handoff.sentiment_model import get_model  # scikit-learn loads only when needed

    lexicon = load_lexicon()
    todo = sorted({text for text in texts if text.strip()})
    done = dict(zip(todo, (_verdict(text, prediction, lexicon)
                           for text, prediction in zip(todo, get_model().predict(todo),
                                                       strict=True)), strict=True))
    return [done.get(text, NEUTRAL) for text in texts]


def _classified(text: str, lexicon: Lexicon) -> Sentiment:
    from handoff.sentiment_model import get_model  # scikit-learn loads only when needed

    return _verdict(text, get_model().predict([text])[0], lexicon)


def _verdict(text: str, prediction: Prediction, lexicon: Lexicon) -> Sentiment:
    from handoff.sentiment_model import get_model

    model = get_model()
    by_lexicon = lexicon_analyse(text, lexicon)
    strong = prediction.strong or by_lexicon.strongly_negative
    label = Label.STRONGLY_NEGATIVE if strong else prediction.label
    score = _score(label, prediction.probabilities, prediction.strong_probability,
                   model.threshold)
    cues = by_lexicon.cues
    if not cues and label != Label.NEUTRAL:
        cues = tuple(model.top_terms(text, strong=prediction.strong, label=prediction.label))
    return Sentiment(score, label, cues)


def _score(label: str, p: dict[str, float], p_strong: float, threshold: float) -> float:
    """A score in the band :func:`label_for` gives ``label``, deeper with more confidence."""
    if label == Label.STRONGLY_NEGATIVE:
        # At most -4 even when only the lexicon found the message strongly negative.
        value = -4.0 - 2.0 * max(0.0, p_strong - threshold) / max(1.0 - threshold, 1e-6)
    elif label == Label.NEGATIVE:
        value = -2.0 - 1.9 * p["negative"]
    elif label == Label.POSITIVE:
        value = 2.0 + p["positive"]
    else:
        value = 1.9 * (p["positive"] - p["negative"])
    return round(value, 2)


def lexicon_analyse(text: str, lexicon: Lexicon | None = None) -> Sentiment:
    """The lexicon's own verdict: weighted words, negators, intensifiers, emphasis."""
    lexicon = lexicon or load_lexicon()
    tokens = [normalise(t.replace("’", "'")) for t in _TOKEN.findall(text)]
    score, cues = 0.0, []
    i = 0
    while i < len(tokens):
        match = _match(lexicon, tokens, i)
        if match is None:
            i += 1
            continue
        length, weight = match
        before = tokens[max(0, i - _WINDOW):i]
        weight = _modified(lexicon, before, weight)
        score += weight
        modifiers = [w for w in before if w in lexicon.negators or w in lexicon.intensifiers]
        cues.append(" ".join([*modifiers, *tokens[i:i + length]]))
        i += length
    if score < 0:
        score -= _emphasis(text)
    score = round(score, 2)
    return Sentiment(score, label_for(score), tuple(cues))


def _match(lexicon: Lexicon, tokens: list[str], i: int) -> tuple[int, float] | None:
    for length in range(min(lexicon.longest_phrase, len(tokens) - i), 0, -1):
        phrase = " ".join(tokens[i:i + length])
        if phrase in lexicon.words:
            return length, lexicon.words[phrase]
    word = tokens[i]
    best = max((p for p in lexicon.prefixes if word.startswith(p)), key=len, default=None)
    return (1, lexicon.prefixes[best]) if best is not None else None


def _modified(lexicon: Lexicon, before: list[str], weight: float) -> float:
    if any(word in lexicon.intensifiers for word in before):
        weight *= 1.5
    if any(word in lexicon.negators for word in before):
        weight = -weight if weight > 0 else -weight / 2
    return weight


def _emphasis(text: str) -> float:
    extra = 1.0 if "!!" in text or "?!" in text else 0.0
    return extra + shouting(text)


def shouting(text: str) -> float:
    """1.0 for a message in capitals (at least 8 letters, 60 % upper case), else 0.0."""
    letters = [c for c in text if c.isalpha()]
    if len(letters) >= 8 and sum(c.isupper() for c in letters) / len(letters) >= 0.6:
        return 1.0
    return 0.0
