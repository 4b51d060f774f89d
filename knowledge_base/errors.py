"""Errors of the knowledge base.

Error tree::

    ValueError
     └── KnowledgeBaseError   the data under knowledge_base/data is invalid; ``problems`` lists
                              every problem found, each as "FILE:LINE: FIELD: MESSAGE"
"""

from __future__ import annotations

from collections.abc import Iterable


class KnowledgeBaseError(ValueError):
    """The knowledge base data is invalid; ``str()`` lists every problem, one per line."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems: list[str] = list(problems) or ["the knowledge base is invalid"]
        super().__init__("\n".join(self.problems))
