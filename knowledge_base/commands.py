"""Short messages taken as commands in any language: "кто я", "выйти", "logout", "отмена".

They are data (``data/commands.yml``); a message is a command when, lower-cased, with ё as е
and without punctuation or extra spaces, it equals one of the words: "Кто я?" is "кто я".
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from knowledge_base.schema import CommandWords

_NOT_WORD = re.compile(r"[^\w/]+")
MAX_COMMAND_LENGTH = 60  # longer messages are never commands (no work on a huge text)


def normalise_command(text: str) -> str:
    return " ".join(_NOT_WORD.sub(" ", text.lower().replace("ё", "е")).split())


class CommandMatcher:
    def __init__(self, commands: Mapping[str, CommandWords]) -> None:
        self._by_words = {
            normalise_command(word): name
            for name, words in commands.items()
            for word in (*words.ru, *words.en, *words.be)
        }

    def match(self, text: str) -> str | None:
        """The command ``text`` is ("whoami", "logout", "verify", "cancel"), or None."""
        if not text or len(text) > MAX_COMMAND_LENGTH:
            return None
        return self._by_words.get(normalise_command(text))
