"""The search's words, stems, query language and snippets (handoff/search/text.py), and which
messages the SQLite index takes (handoff/search/sqlite.py): rules, no database."""

from __future__ import annotations

from datetime import timedelta

from bot.messages import utcnow
from handoff.search.sqlite import _ready, _Row
from handoff.search.text import (
    ELLIPSIS,
    Segment,
    fts5_expression,
    parse_query,
    snippet,
    stem,
    stems,
)


def highlight(text: str, query: str) -> list[Segment]:
    return snippet(text, parse_query(query).highlighted)


def hits(segments: list[Segment]) -> list[str]:
    return [s.text for s in segments if s.hit]


def test_russian_words_in_any_case_form_share_a_stem() -> None:
    assert stem("роуминга") == stem("роуминг") == stem("роуминге") == stem("Роумингом")
    assert stem("Грузии") == stem("грузия")
    assert stem("ёлка") == stem("елка"), "ё reads as е"


def test_english_words_get_the_english_stemmer() -> None:
    assert stem("charges") == stem("charged") == stem("charge") == stem("Charging")
    assert stem("roaming") == "roam"


def test_numbers_and_mixed_words_stay_whole() -> None:
    assert stem("375291234567") == "375291234567"
    assert stem("4G") == "4g"


def test_stems_of_a_text_in_order_without_punctuation() -> None:
    assert stems("Не работает роуминг, в Грузии!") == ["не", "работа", "роуминг", "в", "груз"]
    assert stems("wi-fi <script>") == ["wi", "fi", "script"]
    assert stems("...") == []


def test_a_decomposed_letter_is_one_word() -> None:
    assert stems("и\u0306од") == stems("йод") == [stem("йод")]


def test_words_of_the_query_must_all_match() -> None:
    query = parse_query("роуминга Грузия")
    assert fts5_expression(query) == '("роуминг" AND "груз")'
    assert query.highlighted == {"роуминг", "груз"}


def test_phrases_or_and_exclusions_as_in_a_web_search() -> None:
    query = parse_query('"не работает" or charges -foo')
    assert fts5_expression(query) == '("не работа") OR (("charg") NOT ("foo"))'
    assert query.highlighted == {"не", "работа", "charg"}, "an excluded word is no hit"
    assert fts5_expression(parse_query("wi-fi")) == '("wi" AND "fi")', "a hyphen inside a word"


def test_fts_syntax_in_the_query_is_only_text() -> None:
    for raw in ['"', "*", "NEAR(", "-", "()", "^", ":", "'", "AND OR NOT", "a*", 'x" OR "y',
                "col:word", "NEAR(a b, 2)", '"""', "-(", "or", "or or"]:
        query = parse_query(raw)
        expression = fts5_expression(query)
        for term in query.alternatives:
            for t in term:
                assert all(s.isalnum() for s in t.stems), raw
        # every term is one quoted string: no bare word reaches FTS5 as an operator
        assert expression.count('"') % 2 == 0, raw
        assert "*" not in expression and ":" not in expression and "^" not in expression, raw
    assert parse_query("NEAR(a b, 2)").highlighted == {"near", "a", "b", "2"}


def test_a_query_with_nothing_to_find_is_empty() -> None:
    for raw in ['"', "()", "-", "-foo", " or ", "***"]:
        assert parse_query(raw).empty, raw
    assert not parse_query("foo -bar").empty


def test_snippet_marks_the_hits_and_keeps_the_original_text() -> None:
    segments = highlight("Не работает роуминг в Грузии", "роуминга грузия")
    assert segments == [Segment("Не работает "), Segment("роуминг", True), Segment(" в "),
                        Segment("Грузии", True)]
    assert "".join(s.text for s in segments) == "Не работает роуминг в Грузии"


def test_snippet_of_markup_is_the_markup_as_text() -> None:
    text = "<script>alert('x')</script> <b>жирный</b>"
    segments = highlight(text, "alert")
    assert "".join(s.text for s in segments) == text
    assert hits(segments) == ["alert"]


def test_a_long_text_is_cut_around_the_first_hit_at_word_boundaries() -> None:
    before = "Добрый день, " * 30
    after = " помогите пожалуйста" * 30
    text = f"{before}у меня не работает роуминг в Грузии{after}"
    segments = highlight(text, "роуминг")
    assert segments[0] == Segment(ELLIPSIS) and segments[-1] == Segment(ELLIPSIS)
    body = "".join(s.text for s in segments[1:-1])
    assert 120 <= len(body) <= 170
    assert body in text, "the original text, cut, never rewritten"
    assert hits(segments) == ["роуминг"]
    at = text.index(body)
    assert not text[at - 1].isalnum() and not text[at + len(body)].isalnum(), "whole words"
    assert body == body.strip()


def test_a_hit_at_the_start_or_the_end_keeps_that_side_whole() -> None:
    text = "роуминг " + "слово " * 60
    segments = highlight(text, "роуминг")
    assert segments[0] == Segment("роуминг", True) and segments[-1] == Segment(ELLIPSIS)
    text = "слово " * 60 + "роуминг"
    segments = highlight(text, "роуминг")
    assert segments[0] == Segment(ELLIPSIS) and segments[-1] == Segment("роуминг", True)


def test_without_a_hit_the_snippet_is_the_start() -> None:
    assert snippet("короткий текст") == [Segment("короткий текст")]
    long = "слово " * 60
    segments = snippet(long)
    assert segments[-1] == Segment(ELLIPSIS) and not any(s.hit for s in segments)
    assert long.startswith(segments[0].text)
    assert snippet("") == []


def test_one_endless_word_is_still_cut() -> None:
    segments = snippet("x" * 500)
    assert segments == [Segment("x" * 160), Segment(ELLIPSIS)]


def row(id_: int, *, settled: bool = True, minutes_ago: float = 0) -> _Row:
    return _Row(id_, f"text {id_}", settled, utcnow() - timedelta(minutes=minutes_ago))


def test_the_index_stops_short_of_a_message_being_processed() -> None:
    ready, aside, reached, blocked = _ready([row(5), row(6, settled=False), row(7)], 4)
    assert [r.id for r in ready] == [5] and aside == set()
    assert reached == 5 and blocked


def test_a_message_stuck_unprocessed_is_set_aside() -> None:
    ready, aside, reached, blocked = _ready(
        [row(5), row(6, settled=False, minutes_ago=30), row(7)], 4)
    assert [r.id for r in ready] == [5, 7] and aside == {6}
    assert reached == 7 and not blocked
    assert _ready([], 9) == ([], set(), 9, False)
