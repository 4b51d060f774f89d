"""compose_reply: threading headers, the RFC 3834 marks only on automatic replies, a text and an
HTML part in UTF-8 that survive a round trip through bytes; numbered buttons and number
replies."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import parsedate_to_datetime

import pytest

from channels.email.compose import (
    MAX_REFERENCES,
    compose_reply,
    numbered_buttons,
    read_number_reply,
    text_to_html,
)

TEXT = "Здравствуйте!\n\nПроверьте настройки <APN> & перезагрузите телефон.\nСпасибо."


def reply(**overrides: object) -> EmailMessage:
    values: dict[str, object] = {
        "from_address": "support@abonent.test", "to_address": "ivan@example.test",
        "subject": "Re: Не работает интернет", "in_reply_to": "<m2@example.test>",
        "references": ("<m1@example.test>",), "text": TEXT, "auto": True,
        "domain": "abonent.test",
    }
    values.update(overrides)
    return compose_reply(**values)  # type: ignore[arg-type]


def reparsed(message: EmailMessage) -> EmailMessage:
    """What the recipient's client sees: the message through its bytes."""
    parsed = email.message_from_bytes(bytes(message), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_headers_of_an_automatic_reply() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    message = reparsed(reply())
    assert message["From"] == "support@abonent.test"
    assert message["To"] == "ivan@example.test"
    assert message["Subject"] == "Re: Не работает интернет"
    assert message["In-Reply-To"] == "<m2@example.test>"
    assert message["References"] == "<m1@example.test> <m2@example.test>"
    assert message["Auto-Submitted"] == "auto-replied"
    assert message["X-Auto-Response-Suppress"] == "All"
    assert re.fullmatch(r"<[^<>@\s]+@abonent\.test>", message["Message-ID"])
    sent = parsedate_to_datetime(message["Date"])
    assert before <= sent <= datetime.now(UTC) + timedelta(seconds=1)
    assert b"=?utf-8?" in bytes(reply())  # the Cyrillic subject is encoded, not raw 8-bit


def test_an_agents_reply_is_not_marked_automatic() -> None:
    message = reparsed(reply(auto=False))
    assert "Auto-Submitted" not in message and "X-Auto-Response-Suppress" not in message
    assert message["In-Reply-To"] == "<m2@example.test>"


def test_each_reply_gets_a_fresh_message_id() -> None:
    assert reply()["Message-ID"] != reply()["Message-ID"]


def test_a_text_part_and_an_html_alternative_in_utf8() -> None:
    message = reparsed(reply())
    assert message.get_content_type() == "multipart/alternative"
    plain, html = message.iter_parts()
    assert plain.get_content_type() == "text/plain" and plain.get_content_charset() == "utf-8"
    assert html.get_content_type() == "text/html" and html.get_content_charset() == "utf-8"
    assert plain.get_content().replace("\r\n", "\n").rstrip("\n") == TEXT
    assert ("<p>Проверьте настройки &lt;APN&gt; &amp; перезагрузите телефон.<br>\nСпасибо.</p>"
            in html.get_content())
    assert "MIME-Version" not in plain and "MIME-Version" not in html
    raw = bytes(reply())
    assert raw.isascii(), "7-bit transfer encodings only: no relay has to convert the body"


def test_a_given_html_part_is_used_as_it_is() -> None:
    html = '<p>Баланс: <b>100 ₽</b></p>'
    _plain, part = reparsed(reply(html=html)).iter_parts()
    assert part.get_content().rstrip("\n") == html


def test_text_to_html_paragraphs() -> None:
    assert text_to_html("a\r\nb\n\n\n c & d") == (
        '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head>\n'
        "<body>\n<p>a<br>\nb</p>\n<p> c &amp; d</p>\n</body></html>\n")


def test_a_first_mail_has_no_threading_headers() -> None:
    message = reparsed(reply(in_reply_to=None, references=()))
    assert "In-Reply-To" not in message and "References" not in message


def test_references_keep_order_drop_duplicates_and_junk() -> None:
    message = reparsed(reply(
        in_reply_to="m3@example.test",  # without brackets: they are added
        references=("<m1@example.test>", "<m2@example.test>", "<m1@example.test>",
                    "not an id", "<evil@x>\r\nBcc: victim@example.test", "<m3@example.test>")))
    assert message["In-Reply-To"] == "<m3@example.test>"
    assert message["References"] == "<m1@example.test> <m2@example.test> <m3@example.test>"
    assert "Bcc" not in message


def test_references_are_capped_at_the_last_twenty() -> None:
    chain = tuple(f"<m{n}@example.test>" for n in range(1, 31))
    message = reparsed(reply(references=chain, in_reply_to="<m31@example.test>"))
    kept = message["References"].split()
    assert len(kept) == MAX_REFERENCES == 20
    assert kept[0] == "<m12@example.test>" and kept[-1] == "<m31@example.test>"


def test_line_breaks_in_header_values_cannot_inject_headers() -> None:
    message = reparsed(reply(subject="Re: hi\r\nBcc: victim@example.test",
                             to_address="ivan@example.test\nCc: x@example.test"))
    assert "Bcc" not in message and "Cc" not in message
    assert message["Subject"] == "Re: hi Bcc: victim@example.test"


def test_numbered_buttons() -> None:
    text = numbered_buttons("Выберите тариф:", ["Базовый", "Безлимит\nплюс", "Оператор"],
                            hint="Ответьте цифрой.")
    assert text == ("Выберите тариф:\n\n1. Базовый\n2. Безлимит плюс\n3. Оператор\n\n"
                    "Ответьте цифрой.")


def test_no_buttons_no_list() -> None:
    assert numbered_buttons("Готово.", [], hint="Ответьте цифрой.") == "Готово."


@pytest.mark.parametrize(("text", "choice"), [
    ("2", 2), ("2.", 2), (" 2 ", 2), ("№2", 2), ("№ 2", 2), ("2)", 2), ("#3", 3),
    ("1\n", 1), ("\n 3.\n", 3),
])
def test_a_number_alone_is_a_choice(text: str, choice: int) -> None:
    assert read_number_reply(text, 3) == choice


@pytest.mark.parametrize("text", [
    "", "0", "4", "12", "2 тариф", "мне 2", "2, пожалуйста", "2.5", "-2", "1 2", "два",
    "+79161234567",
])
def test_anything_else_is_not(text: str) -> None:
    assert read_number_reply(text, 3) is None


def test_no_buttons_no_choice() -> None:
    assert read_number_reply("1", 0) is None
