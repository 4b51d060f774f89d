"""HTML mail -> plain text with the standard library: scripts, styles and heads dropped, block
elements as line breaks, entities unescaped; ``<blockquote>`` (how Gmail and Thunderbird quote)
kept or dropped."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from channels.email.charsets import clean_text

MAX_HTML = 1_000_000  # characters of HTML converted; the rest is layout
MAX_BODY = 100_000  # characters kept when the markup cannot be parsed

_SKIPPED = frozenset({"script", "style", "head", "title", "template", "noscript", "svg",
                      "object", "iframe"})
_LINE_BREAKS = frozenset({"div", "li", "tr", "dt", "dd", "section", "article", "header", "footer",
                          "address", "center", "form", "nav", "aside", "figure", "caption"})
_PARAGRAPHS = frozenset({"p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "ul",
                         "ol", "dl", "pre", "hr"})
_CELLS = frozenset({"td", "th"})
_VOID = frozenset({"br", "hr", "img", "meta", "link", "input", "col", "area", "base", "wbr",
                   "source", "embed", "param", "track"})


class _HtmlText(HTMLParser):
    def __init__(self, *, keep_quotes: bool) -> None:
        super().__init__(convert_charrefs=True)
        self._keep_quotes = keep_quotes
        self._out: list[str] = []
        self._size = 0
        self._last = "\n"
        self._skipped: dict[str, int] = {}
        self._quote = 0
        self._pre = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "body":
            self._skipped.pop("head", None)  # an unclosed <head> ends where the body starts
        if tag in _SKIPPED:
            self._skipped[tag] = self._skipped.get(tag, 0) + 1
            return
        self._boundary(tag)
        if tag == "blockquote":
            self._quote += 1
        elif tag == "pre":
            self._pre += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _SKIPPED:
            self._boundary(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            if self._skipped.get(tag):
                self._skipped[tag] -= 1
            return
        if tag in _VOID:
            return
        if tag == "blockquote" and self._quote:
            self._boundary(tag)
            self._quote -= 1
            return
        if tag == "pre" and self._pre:
            self._pre -= 1
        self._boundary(tag)

    def handle_data(self, data: str) -> None:
        if any(self._skipped.values()) or (self._quote and not self._keep_quotes):
            return
        if not self._pre:
            data = re.sub(r"\s+", " ", data)
            if data.startswith(" ") and self._last in " \n":
                data = data[1:]
        self._emit(data)

    def _boundary(self, tag: str) -> None:
        if self._quote and not self._keep_quotes and tag != "blockquote":
            return
        if tag == "br":
            self._emit("\n")
        elif tag in _PARAGRAPHS:
            self._newlines(2)
        elif tag in _LINE_BREAKS:
            self._newlines(1)
        elif tag in _CELLS and self._last not in " \n":
            self._emit(" ")

    def _newlines(self, count: int) -> None:
        tail = "".join(self._out[-3:])
        have = len(tail) - len(tail.rstrip("\n")) if self._out else count
        if have < count:
            self._emit("\n" * (count - have))

    def _emit(self, text: str) -> None:
        if not text or self._size > MAX_BODY:
            return
        self._out.append(text)
        self._size += len(text)
        self._last = text[-1]

    def text(self) -> str:
        lines = [" ".join(line.split()) for line in "".join(self._out).split("\n")]
        return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def html_to_text(html: str, *, keep_quotes: bool = True) -> str:
    """Readable text of an HTML body: no scripts, styles or head; blocks become lines; entities
    unescaped. ``keep_quotes=False`` drops ``<blockquote>`` (how Gmail and Thunderbird quote)."""
    parser = _HtmlText(keep_quotes=keep_quotes)
    try:
        parser.feed(html[:MAX_HTML])
        parser.close()
    except Exception:  # noqa: BLE001 - html.parser has raised on odd markup in past versions
        return clean_text(re.sub(r"<[^>]*>", " ", html[:MAX_BODY]))
    return clean_text(parser.text())
