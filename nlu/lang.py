"""Which of our three languages a message is in: Russian, Belarusian or English.

Rasa does not tell us, and a full language-identification model is overkill for three languages
with distinct alphabets. The rules, in order:

1. a hint (a channel's ``language_code`` such as ``"be"`` or ``"en-US"``) naming one of the three
   wins;
2. no letters at all (empty, digits, ``*100#``) -> ``"ru"``, the operator's main language;
3. Latin letters outnumber Cyrillic ones -> ``"en"``;
4. Cyrillic with a Belarusian-only letter (``ў``, ``і``) -> ``"be"``;
5. Cyrillic with typical Belarusian words or spellings (``што``, ``дзякуй``, ``нумар``, ``трэба``,
   ``-ць``, ``чы``...) that outweigh the Russian ones (``что``, ``номер``, letters ``и щ ъ``)
   -> ``"be"``;
6. otherwise ``"ru"``.
"""

from __future__ import annotations

import re
import unicodedata

from nlu.languages import DEFAULT_LANG, LANGUAGES

__all__ = ["LANGUAGES", "detect_language"]


_BE_LETTERS = frozenset("ўі")
_RU_LETTERS = frozenset("ищъ")
_WORD = re.compile(r"[^\W\d_]+(?:['’ʼ][^\W\d_]+)*")


def _words(block: str) -> frozenset[str]:
    return frozenset(block.split())


# Everyday Belarusian words that are not Russian words (and carry no ў/і, which decide anyway).
_BE_WORDS = _words(
    """
    што дзякуй дзякую вельмі калі нумар нумара нумары нумару трэба гэта гэты гэтая гэтае маё яго
    зараз дзе куды адкуль чаму ўсё усё таксама можна дапамажыце дапамажы дапамога праверыць
    падключыць адключыць пазваніць патэлефанаваць тэлефон грошы грошай рахунак рахунку сувязь
    сувязі аператар аператара аператарам чалавек чалавекам дзень добры добрай дабранач бывай
    бывайце прабачце калі ласка ня няма дрэнна дрэнная добра вось ёсць хачу магу размаўляць
    скажыце замежжа мяжой мяжу сёння учора заўтра колькі кошт каштуе плацёж
    """
)
# Words that are Russian and not Belarusian: they pull the other way.
_RU_WORDS = _words(
    """
    что чтобы как мой моя моё мне номер номера номеру спасибо очень где когда сколько хочу могу
    это этот эта здравствуйте привет пока деньги счёт счет связь оператор оператором человек
    человеком сегодня можно помогите подключить отключить позвонить проверить роуминг роуминге
    за границей день добрый плохо хорошо есть нет да
    """
)
# Ambiguous words removed from both lists: appear in each language with the same spelling.
_BOTH = _BE_WORDS & _RU_WORDS
_BE_WORDS -= _BOTH
_RU_WORDS -= _BOTH

_BE_PHRASES = ("як мне", "мой нумар", "калі ласка", "добры дзень", "як можна", "што рабіць")
# Spellings Russian orthography avoids: жы/шы/чы, -ць, -цц-, дзь/дзе, a consonant + э (трэба).
_BE_SPELLING = re.compile(r"(?:[жшч]ы|ць\b|цц|дзь|дзе|дзя|дзю|[бвгдзклмнпрстфхцчш]э|ае\b)")


def _normalise_hint(hint: str | None) -> str | None:
    if not hint:
        return None
    code = re.split(r"[-_]", hint.strip().lower(), maxsplit=1)[0]
    return code if code in LANGUAGES else None


def _is_cyrillic(ch: str) -> bool:
    return "\u0400" <= ch <= "\u04ff"


def detect_language(text: str, hint: str | None = None) -> str:
    """``"ru"``, ``"be"`` or ``"en"`` for ``text``; a hint among those wins (see module doc)."""
    hinted = _normalise_hint(hint)
    if hinted:
        return hinted
    lowered = unicodedata.normalize("NFKC", text).lower()
    cyrillic = latin = 0
    for ch in lowered:
        if not ch.isalpha():
            continue
        if _is_cyrillic(ch):
            cyrillic += 1
        elif "a" <= ch <= "z" or ch in "àáâäçèéêëìíîïñòóôöùúûüÿ":
            latin += 1
    if cyrillic == 0 and latin == 0:
        return DEFAULT_LANG
    if latin > cyrillic:
        return "en"
    if any(ch in _BE_LETTERS for ch in lowered):
        return "be"
    words = [w for w in _WORD.findall(lowered) if any(_is_cyrillic(c) for c in w)]
    joined = " ".join(words).replace("ё", "е")
    be_score = 2 * sum(w in _BE_WORDS for w in words)
    be_score += 2 * sum(phrase.replace("ё", "е") in joined for phrase in _BE_PHRASES)
    be_score += sum(1 for w in words if w not in _RU_WORDS and _BE_SPELLING.search(w))
    ru_score = 2 * sum(w in _RU_WORDS for w in words)
    ru_score += 2 * sum(1 for w in words if any(c in _RU_LETTERS for c in w))
    if be_score >= 2 and be_score > ru_score:
        return "be"
    return "ru"
