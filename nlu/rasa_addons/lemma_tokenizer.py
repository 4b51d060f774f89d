"""Whitespace tokenizer that also sets ``token.lemma`` for Russian words (pymorphy3).

Featurizers with ``use_lemma: true`` (the CountVectorsFeaturizer default) then see
"балансе", "баланса", "баланс" as one word, and "Польшу" / "Польше" as "польша".

Use in config.yml as ``rasa_addons.lemma_tokenizer.PymorphyLemmaTokenizer`` with
``PYTHONPATH=nlu`` (training and serving). Needs ``pymorphy3`` and ``pymorphy3-dicts-ru``
in the Rasa environment; no downloads at run time.
"""
from __future__ import annotations

import re
from typing import Any, Dict, List, Optional, Text

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.training_data.message import Message

_CYRILLIC = re.compile(r"^[а-яёіўґєї'ʼ’-]+$")
# Letters that Russian does not have: such a word is Belarusian (or Ukrainian); the Russian
# dictionary would only guess, so it is left as it is (lower-cased).
_NOT_RUSSIAN = re.compile(r"[іўґєї'ʼ’]")


@DefaultV1Recipe.register(
    DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER, is_trainable=False
)
class PymorphyLemmaTokenizer(WhitespaceTokenizer):
    """Splits like WhitespaceTokenizer; lemmatizes Cyrillic tokens with pymorphy3."""

    @staticmethod
    def get_default_config() -> Dict[Text, Any]:
        return {
            **WhitespaceTokenizer.get_default_config(),
            # lemmatize words missing from the dictionary too (pymorphy3 guesses the
            # paradigm); false keeps unknown words (typos, slang, Belarusian) as they are
            "lemmatize_unknown": False,
        }

    @staticmethod
    def required_packages() -> List[Text]:
        return ["pymorphy3"]

    @staticmethod
    def supported_languages() -> Optional[List[Text]]:
        return None

    def __init__(self, config: Dict[Text, Any]) -> None:
        super().__init__(config)
        import pymorphy3

        self._morph = pymorphy3.MorphAnalyzer(lang="ru")
        self._lemmatize_unknown = bool(self._config.get("lemmatize_unknown", False))
        self._cache: Dict[Text, Text] = {}

    def lemma(self, word: Text) -> Text:
        """The lemma of one token (lower-cased, ё -> е); non-Russian words unchanged."""
        w = word.lower().replace("ё", "е")
        cached = self._cache.get(w)
        if cached is not None:
            return cached
        result = w
        if _CYRILLIC.match(w) and not _NOT_RUSSIAN.search(w):
            if self._lemmatize_unknown or self._morph.word_is_known(w):
                result = self._morph.parse(w)[0].normal_form.replace("ё", "е")
        if len(self._cache) < 200_000:
            self._cache[w] = result
        return result

    def tokenize(self, message: Message, attribute: Text) -> List[Token]:
        tokens = super().tokenize(message, attribute)
        for token in tokens:
            token.lemma = self.lemma(token.text)
        return tokens
