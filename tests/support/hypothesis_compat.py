"""Let hypothesis-jsonschema (which schemathesis 3.x uses) run on newer Hypothesis releases.

hypothesis-jsonschema 0.23.1 draws object properties with ``cu.many(...).more()``; recent
Hypothesis releases replaced ``more()`` by using ``many`` as a context manager and iterating it
(``with many(...) as elements: for _ in elements:``), so every schema with an object in it
failed with ``AttributeError: 'many' object has no attribute 'more'``. ``install`` adds a
``more()`` that drives the new protocol; it does nothing where ``more()`` still exists.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from hypothesis.internal.conjecture import utils as conjecture_utils

_END = object()


def _more(self: Any) -> bool:
    elements: Iterator[None] | None = self.__dict__.get("_compat_elements")
    if elements is None:
        self.__enter__()
        elements = self._compat_elements = iter(self)
    if next(elements, _END) is _END:
        self.__exit__(None, None, None)
        return False
    return True


def install() -> None:
    if not hasattr(conjecture_utils.many, "more"):
        conjecture_utils.many.more = _more  # type: ignore[attr-defined]
