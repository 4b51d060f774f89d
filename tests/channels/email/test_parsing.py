"""parse_mail: raw bytes -> ParsedMail for every charset, encoding and structure real mail has;
never an exception, whatever the bytes."""

from __future__ import annotations

import base64
import hashlib
from datetime import UTC, datetime, timedelta, timezone
from email.utils import parsedate_to_datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channels.email.parsing import MAX_BODY, MAX_TEXT, ParsedMail, parse_mail
from tests.channels.email import mails

MSK = timezone(timedelta(hours=3))


def test_a_plain_mail() -> None:
    raw = mails.plain_mail(
        "Здравствуйте! Не работает мобильный интернет.", message_id="<m1@example.test>",
        in_reply_to="<r1@example.test>", references=["<r0@example.test>", "<r1@example.test>"],
        headers=[("Reply-To", "Ivan Work <Ivan.Petrov@Work.Example.Test>")])
    assert parse_mail(raw) == ParsedMail(
        message_id="<m1@example.test>",
        in_reply_to="<r1@example.test>",
        references=("<r0@example.test>", "<r1@example.test>"),
        sender="ivan@example.test",
        sender_name="Иван Петров",
        reply_to="ivan.petrov@work.example.test",
        subject="Не работает интернет",
        text="Здравствуйте! Не работает мобильный интернет.",
        body="Здравствуйте! Не работает мобильный интернет.",
        attachments=(),
        date=parsedate_to_datetime(mails.DEFAULT_DATE),
        loop_reason=None,
    )


def test_a_reply_keeps_only_the_new_text_and_the_whole_body() -> None:
    body = ("Спасибо, заработало.\n\nпн, 2 мар. 2026 г. в 10:15, Support <support@example.test>:"
            "\n\n> Перезагрузите телефон.\n")
    parsed = parse_mail(mails.plain_mail(body, subject="Re: Не работает интернет"))
    assert parsed.text == "Спасибо, заработало."
    assert parsed.body == body.strip()
    assert parsed.subject == "Re: Не работает интернет"


# --------------------------------------------------------------------------- ids


def test_message_ids_lose_whitespace_and_keep_their_brackets() -> None:
    raw = mails.raw_mail(
        ["From: ivan@example.test", "Message-ID:  <abc.123\r\n @example.test> ",
         "In-Reply-To: <first@example.test> <second@example.test>",
         "References: <a@example.test>\r\n <b@exa\r\n mple.test>\r\n\t<c@example.test>"],
        b"hi")
    parsed = parse_mail(raw)
    assert parsed.message_id == "<abc.123@example.test>"
    assert parsed.in_reply_to == "<first@example.test>"
    assert parsed.references == ("<a@example.test>", "<b@example.test>", "<c@example.test>")


def test_a_message_id_without_brackets_gets_them() -> None:
    raw = mails.raw_mail(["From: ivan@example.test", "Message-ID: abc@example.test"], b"hi")
    assert parse_mail(raw).message_id == "<abc@example.test>"


def test_a_mail_without_a_message_id_gets_one_from_its_bytes() -> None:
    raw = mails.plain_mail("Тест", message_id=None)
    expected = f"<{hashlib.sha256(raw).hexdigest()[:32]}@abonent.invalid>"
    assert parse_mail(raw).message_id == expected
    assert parse_mail(raw).message_id == expected, "the same mail, the same id (dedupe)"
    assert parse_mail(mails.plain_mail("Другой", message_id=None)).message_id != expected
    empty = mails.raw_mail(["From: ivan@example.test", "Message-ID: "], b"hi")
    assert parse_mail(empty).message_id.endswith("@abonent.invalid>")


def test_a_huge_message_id_is_hashed_the_same_way_in_references() -> None:
    long_id = "<" + "x" * 400 + "@example.test>"
    first = parse_mail(mails.plain_mail("a", message_id=long_id))
    reply = parse_mail(mails.plain_mail("b", in_reply_to=long_id, references=[long_id]))
    assert first.message_id.endswith("@abonent.invalid>") and len(first.message_id) < 100
    assert reply.in_reply_to == first.message_id
    assert reply.references == (first.message_id,)


def test_missing_threading_headers() -> None:
    parsed = parse_mail(mails.plain_mail())
    assert parsed.in_reply_to is None and parsed.references == () and parsed.reply_to is None
    junk = mails.raw_mail(["From: a@example.test", "In-Reply-To: <>", "References: junk junk"],
                          b"hi")
    assert parse_mail(junk).in_reply_to is None


# --------------------------------------------------------------------------- headers


@pytest.mark.parametrize("charset", ["koi8-r", "windows-1251", "cp866", "iso-8859-5", "utf-8"])
@pytest.mark.parametrize("cte", ["8bit", "base64", "quoted-printable"])
def test_legacy_russian_charsets_in_bodies_and_rfc2047_headers(charset: str, cte: str) -> None:
    text = 'Здравствуйте! Не могу пополнить баланс, пишет "ошибка 5" (Ёлки, ЩИТ).'
    raw = mails.legacy_mail(text, charset=charset, cte=cte, subject="Баланс: ошибка",
                            from_name="Иван Петров")
    parsed = parse_mail(raw)
    assert parsed.text == text
    assert parsed.subject == "Баланс: ошибка"
    assert parsed.sender_name == "Иван Петров"
    assert parsed.sender == "ivan@example.test"


TEXT = "Добрый день! У меня не работает интернет на телефоне, помогите пожалуйста."


@pytest.mark.parametrize("charset", ["koi8-r", "windows-1251", "cp866", "iso-8859-5"])
@pytest.mark.parametrize("declared", [None, "us-ascii", "iso-8859-1", "utf-8", "x-unknown-cs",
                                      "koi8-r", "windows-1251", "base64"])
def test_a_missing_wrong_or_unknown_charset_is_guessed(charset: str, declared: str | None) -> None:
    raw = mails.legacy_mail(TEXT, charset=charset, declared_charset=declared)
    assert parse_mail(raw).text == TEXT


def test_a_utf8_body_declared_as_something_else_is_read_as_utf8() -> None:
    raw = mails.legacy_mail(TEXT, charset="utf-8", declared_charset="windows-1251")
    assert parse_mail(raw).text == TEXT


def test_a_utf8_body_with_a_broken_byte_stays_utf8() -> None:
    data = TEXT.encode()
    raw = mails.raw_mail(["From: a@example.test", "Content-Type: text/plain; charset=utf-8"],
                         data[:13] + b"\xff" + data[13:])
    assert parse_mail(raw).text == TEXT[:7] + "\ufffd" + TEXT[7:]


def test_a_western_latin1_mail_stays_latin1() -> None:
    text = "Schöne Grüße aus München, die Straße ist gesperrt."
    raw = mails.raw_mail(["From: a@example.test", "Content-Type: text/plain; charset=iso-8859-1"],
                         text.encode("latin-1"))
    assert parse_mail(raw).text == text


def test_8bit_headers_without_encoded_words() -> None:
    for charset in ("utf-8", "windows-1251", "koi8-r"):
        raw = mails.raw_mail(
            ["From: " + "Иван Петров".encode(charset).decode("latin-1") + " <ivan@example.test>",
             "Subject: " + "Не работает интернет".encode(charset).decode("latin-1")],
            b"hi")
        raw = raw.decode("utf-8").encode("latin-1")  # the header bytes exactly as encoded
        parsed = parse_mail(raw)
        assert parsed.subject == "Не работает интернет", charset
        assert parsed.sender_name == "Иван Петров", charset


def test_encoded_words_split_inside_a_utf8_character_and_mixed_charsets() -> None:
    data = "Баланс".encode()
    split = (f"=?utf-8?B?{base64.b64encode(data[:3]).decode()}?= "
             f"=?UTF-8?B?{base64.b64encode(data[3:]).decode()}?=")
    subject = f"Re: {split} и {mails.encoded_word('тариф', 'koi8-r', 'Q')}"
    parsed = parse_mail(mails.raw_mail(["From: a@example.test", f"Subject: {subject}"], b"x"))
    assert parsed.subject == "Re: Баланс и тариф"


def test_a_subject_is_collapsed_and_unfolded() -> None:
    raw = mails.raw_mail(["From: a@example.test", "Subject:   Не\r\n   работает \t интернет  "],
                         b"x")
    assert parse_mail(raw).subject == "Не работает интернет"


def test_broken_encoded_words_do_not_stop_the_mail() -> None:
    raw = mails.raw_mail(["From: =?bogus-cs?B?0JjQstCw0L0=?= <IVAN@Example.Test>",
                          "Subject: =?utf-8?B?0J/RgNC4?=?= =?utf-8?Q?=ZZ?= =?utf-8?B?!?="], b"x")
    parsed = parse_mail(raw)
    assert parsed.sender == "ivan@example.test"
    assert parsed.sender_name == "Иван", "an unknown charset is guessed like a body"
    assert parsed.subject.startswith("При")


def test_senders_without_an_address() -> None:
    assert parse_mail(mails.raw_mail(["Subject: x"], b"hi")).sender == ""
    parsed = parse_mail(mails.raw_mail(["From: undisclosed"], b"hi"))
    assert parsed.sender == "" and parsed.sender_name is None
    assert parse_mail(mails.raw_mail(["From: <ivan@example.test>"], b"hi")).sender_name is None


@pytest.mark.parametrize(("header", "expected"), [
    ("Mon, 02 Mar 2026 10:15:00 +0300", datetime(2026, 3, 2, 10, 15, tzinfo=MSK)),
    ("2 Mar 2026 07:15:00 GMT", datetime(2026, 3, 2, 7, 15, tzinfo=UTC)),
    ("Mon, 02 Mar 2026 07:15:00 -0000", datetime(2026, 3, 2, 7, 15, tzinfo=UTC)),
    ("вчера", None),
    ("Mon, 99 Foo 99999 99:99:99 +9999", None),
])
def test_dates_are_aware_or_none(header: str, expected: datetime | None) -> None:
    parsed = parse_mail(mails.raw_mail(["From: a@example.test", f"Date: {header}"], b"x"))
    assert parsed.date == expected
    assert parsed.date is None or parsed.date.tzinfo is not None


def test_no_date() -> None:
    assert parse_mail(mails.plain_mail(date=None)).date is None


# --------------------------------------------------------------------------- bodies


def test_quoted_printable_and_base64_utf8_bodies() -> None:
    for cte in ("quoted-printable", "base64"):
        parsed = parse_mail(mails.plain_mail(TEXT, cte=cte))
        assert parsed.text == TEXT, cte


def test_an_html_only_mail_is_converted_to_text() -> None:
    html = """<html><head><title>Письмо</title><style>p {color: red}</style>
    <script>alert("x")</script></head><body>
    <h1>Добрый&nbsp;день!</h1>
    <p>Не работает <b>интернет</b> &amp; звонки &laquo;в роуминге&raquo;.</p>
    <ul><li>Номер: +375291234567</li><li>Тариф: Смарт</li></ul>
    <table><tr><td>Дата</td><td>02.03.2026</td></tr></table>
    <div>Строка 1<br>Строка 2</div>
    </body></html>"""
    parsed = parse_mail(mails.html_mail(html))
    assert parsed.body == (
        "Добрый день!\n\nНе работает интернет & звонки «в роуминге».\n\n"
        "Номер: +375291234567\nТариф: Смарт\n\nДата 02.03.2026\n\nСтрока 1\nСтрока 2")
    assert parsed.text == parsed.body


def test_an_html_reply_drops_the_blockquote_from_the_text_only() -> None:
    html = ('<div dir="ltr">Спасибо, заработало.</div><br><div class="gmail_quote">'
            '<div dir="ltr" class="gmail_attr">пн, 2 мар. 2026 г. в 10:15, Support &lt;'
            '<a href="mailto:support@example.test">support@example.test</a>&gt;:<br></div>'
            '<blockquote class="gmail_quote" style="margin:0px 0px 0px 0.8ex">'
            '<div dir="ltr">Здравствуйте!<br>Перезагрузите телефон.</div></blockquote></div>')
    parsed = parse_mail(mails.html_mail(html, subject="Re: Интернет"))
    assert parsed.text == "Спасибо, заработало."
    assert parsed.body == ("Спасибо, заработало.\n\nпн, 2 мар. 2026 г. в 10:15, Support "
                           "<support@example.test>:\n\nЗдравствуйте!\nПерезагрузите телефон.")


def test_an_outlook_html_reply() -> None:
    html = ('<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
            '<style><!-- p.MsoNormal {margin:0cm;} --></style></head><body lang="RU">'
            '<div class="WordSection1"><p class="MsoNormal">Интернет не&nbsp;работает.<o:p></o:p>'
            '</p><p class="MsoNormal"><o:p>&nbsp;</o:p></p><div><div style="border:none;'
            'border-top:solid #E1E1E1 1.0pt"><p class="MsoNormal"><b>От:</b> Support &lt;'
            'support@example.test&gt;<br><b>Отправлено:</b> 2 марта 2026 г. 10:15<br>'
            '<b>Кому:</b> Иван &lt;ivan@example.test&gt;<br><b>Тема:</b> RE: Интернет</p></div>'
            '</div><p class="MsoNormal">Здравствуйте!</p></div></body></html>')
    assert parse_mail(mails.html_mail(html)).text == "Интернет не работает."


def test_an_html_forward_from_apple_mail_keeps_its_blockquote() -> None:
    html = ('<div>Это от вас?</div><div><br><blockquote type="cite"><div>Begin forwarded '
            'message:</div><div>Ваша SIM-карта будет заблокирована.</div></blockquote></div>')
    parsed = parse_mail(mails.html_mail(html, subject="Fwd: Блокировка"))
    assert parsed.text == ("Это от вас?\n\nBegin forwarded message:\n"
                           "Ваша SIM-карта будет заблокирована.")


def test_html_in_a_legacy_charset_declared_only_in_a_meta_tag() -> None:
    html = '<html><head><meta charset="koi8-r"></head><body><p>Не работает</p></body></html>'
    raw = mails.raw_mail(["From: a@example.test", "Content-Type: text/html"],
                         html.encode("koi8-r"))
    assert parse_mail(raw).text == "Не работает"


def test_the_text_alternative_is_preferred() -> None:
    parsed = parse_mail(mails.alternative_mail("Текстом", "<p>HTML-ом</p>"))
    assert parsed.text == "Текстом"
    assert parsed.attachments == ()


def test_an_empty_text_alternative_falls_back_to_html() -> None:
    parsed = parse_mail(mails.alternative_mail("  \n", "<p>Только <i>в HTML</i></p>"))
    assert parsed.text == "Только в HTML"


def test_attachments_are_listed_by_filename_or_type() -> None:
    parsed = parse_mail(mails.attachments_mail("Смотрите вложения."))
    assert parsed.text == "Смотрите вложения."
    assert parsed.attachments == ("photo.jpg", "Договор №5.pdf")
    inline = parse_mail(mails.inline_image_mail())
    assert inline.attachments == ("image/jpeg",)
    assert inline.text == "Вот что пишет телефон:"
    with_alternative = parse_mail(mails.alternative_mail(attachments=[mails.CONTRACT]))
    assert with_alternative.attachments == ("Договор №5.pdf",)


def test_an_rfc2047_filename_as_outlook_sends_it_and_an_attached_mail() -> None:
    name = mails.encoded_word("Счёт за март.pdf", "windows-1251")
    raw = mails.raw_mail(
        ["From: a@example.test", 'Content-Type: multipart/mixed; boundary="b"'],
        b"--b\nContent-Type: text/plain; charset=utf-8\n\n\xd0\xa1\xd1\x87\xd1\x91\xd1\x82\n"
        b"--b\nContent-Type: application/pdf; name=\"" + name.encode() + b"\"\n"
        b"Content-Disposition: attachment; filename=\"" + name.encode() + b"\"\n"
        b"Content-Transfer-Encoding: base64\n\nJVBERg==\n"
        b"--b\nContent-Type: message/rfc822\n\n" + mails.plain_mail("old") + b"\n"
        b"--b\nContent-Type: text/plain; name=notes.txt\nContent-Disposition: attachment; "
        b"filename=\"C:\\\\Users\\\\ivan\\\\notes.txt\"\n\nnot the body\n--b--\n")
    parsed = parse_mail(raw)
    assert parsed.attachments == ("Счёт за март.pdf", "message/rfc822", "notes.txt")
    assert parsed.text == "Счёт"


def test_format_flowed_lines_are_joined() -> None:
    raw = mails.raw_mail(
        ["From: a@example.test",
         "Content-Type: text/plain; charset=utf-8; format=flowed; delsp=no"],
        "Добрый день! У меня не работает \nинтернет с утра.\n\n> Это \n> цитата\n\n-- \nИван\n"
        .encode())
    parsed = parse_mail(raw)
    assert parsed.body == (
        "Добрый день! У меня не работает интернет с утра.\n\n> Это цитата\n\n-- \nИван")
    assert parsed.text == "Добрый день! У меня не работает интернет с утра."


def test_an_empty_body_gives_the_subject_without_prefixes() -> None:
    parsed = parse_mail(mails.plain_mail("", subject="Re: Fwd: Роуминг в Польше"))
    assert parsed.text == "Роуминг в Польше"
    only_quote = parse_mail(mails.plain_mail(
        "On 3/2/26 10:15 AM, Support wrote:\n> Hello\n", subject="RE: Баланс"))
    assert only_quote.text == "Баланс"
    assert parse_mail(mails.plain_mail("", subject=None)).text == ""


def test_sizes_are_capped_and_the_text_is_cut_at_a_word() -> None:
    words = " ".join(f"слово{i}" for i in range(30_000))
    parsed = parse_mail(mails.plain_mail(words))
    assert len(parsed.body) == MAX_BODY
    assert MAX_TEXT - 20 < len(parsed.text) <= MAX_TEXT
    assert words.startswith(parsed.text) and words[len(parsed.text)] == " "
    unbroken = parse_mail(mails.plain_mail("я" * 10_000))
    assert unbroken.text == "я" * MAX_TEXT


def test_control_characters_never_reach_the_text() -> None:
    raw = mails.raw_mail(["From: a@example.test\x00", "Subject: a\x00b\x1bc"],
                         b"\xef\xbb\xbfline\x00 one\r\nline\x07 two\rthree")
    parsed = parse_mail(raw)
    assert parsed.body == "line one\nline two\nthree"
    assert parsed.subject == "abc"


def test_a_forward_keeps_the_outlook_header_block() -> None:
    body = ("Это от вас?\n\n________________________________\nFrom: Bank <b@example.test>\n"
            "Sent: Monday, March 2, 2026 10:15 AM\nSubject: Блокировка\n\nКарта заблокирована.")
    assert parse_mail(mails.plain_mail(body, subject="FW: Блокировка")).text == (
        "Это от вас?\n\nFrom: Bank <b@example.test>\nSent: Monday, March 2, 2026 10:15 AM\n"
        "Subject: Блокировка\n\nКарта заблокирована.")
    assert parse_mail(mails.plain_mail(body, subject="RE: Блокировка")).text == "Это от вас?"


# --------------------------------------------------------------------------- loops


def test_loop_reasons_come_through() -> None:
    bounce = parse_mail(mails.bounce_mail())
    assert bounce.loop_reason == "Auto-Submitted: auto-replied"
    assert bounce.sender == "mailer-daemon@mx.example.test"
    assert bounce.text.startswith("I'm sorry to have to inform you")
    assert bounce.attachments == ("message/delivery-status", "message/rfc822")
    assert parse_mail(mails.out_of_office_mail()).loop_reason == "Auto-Submitted: auto-replied"
    assert parse_mail(mails.list_mail()).loop_reason == "Precedence: list"
    ours = mails.plain_mail(from_="Support <support@example.test>")
    assert parse_mail(ours).loop_reason is None
    assert parse_mail(ours, own_addresses=["SUPPORT@example.test"]).loop_reason == (
        "our own address")
    assert parse_mail(ours, own_addresses=iter(["support@example.test"])).loop_reason == (
        "our own address"), "any iterable, read once"


# --------------------------------------------------------------------------- never raises


def _well_formed(parsed: ParsedMail) -> None:
    strings = [parsed.message_id, parsed.sender, parsed.subject, parsed.text, parsed.body,
               *parsed.references, *parsed.attachments, parsed.sender_name or "",
               parsed.reply_to or "", parsed.in_reply_to or "", parsed.loop_reason or ""]
    for value in strings:
        assert isinstance(value, str)
        value.encode("utf-8")  # no lone surrogates from raw 8-bit bytes
        assert "\x00" not in value
    assert parsed.message_id.startswith("<") and parsed.message_id.endswith(">")
    assert " " not in parsed.message_id
    assert len(parsed.text) <= MAX_TEXT and len(parsed.body) <= MAX_BODY
    assert parsed.date is None or parsed.date.tzinfo is not None


SEEDS = [
    mails.plain_mail(), mails.html_mail(), mails.alternative_mail(attachments=[mails.PHOTO]),
    mails.attachments_mail(), mails.inline_image_mail(), mails.legacy_mail(),
    mails.legacy_mail(charset="windows-1251", cte="base64"),
    mails.legacy_mail(charset="koi8-r", cte="quoted-printable"),
    mails.bounce_mail(), mails.out_of_office_mail(), mails.list_mail(),
    mails.plain_mail("Ответ\n\nOn 3/2/26 10:15 AM, Support wrote:\n> Hello\n",
                     in_reply_to="<r@example.test>", references=["<r@example.test>"]),
]
NASTY = b"=?<>:;\"'\r\n \t-_bBqQ\x00\xff\xd0\x80--=boundary"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=3_000))
def test_any_bytes_parse_without_raising(raw: bytes) -> None:
    _well_formed(parse_mail(raw))


@st.composite
def mutated_mails(draw: st.DrawFn) -> bytes:
    raw = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 25))):
        position = draw(st.integers(0, len(raw)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "nasty"]))
        if action == "flip" and raw:
            raw[min(position, len(raw) - 1)] = draw(st.integers(0, 255))
        elif action == "insert":
            raw[position:position] = draw(st.binary(min_size=1, max_size=20))
        elif action == "nasty":
            start = draw(st.integers(0, len(NASTY) - 1))
            raw[position:position] = NASTY[start:start + draw(st.integers(1, 12))]
        else:
            del raw[position:position + draw(st.integers(1, 40))]
    return bytes(raw)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_mails())
def test_mutated_real_mails_parse_without_raising(raw: bytes) -> None:
    _well_formed(parse_mail(raw))


@pytest.mark.parametrize("raw", [
    b"",
    b"\r\n\r\n",
    b"From:\r\n\r\n",
    b"Content-Type: multipart/mixed\r\n\r\nno boundary at all",
    b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n--b\r\n--b--',
    (b'Content-Type: multipart/alternative; boundary="b"\r\n\r\n--b\r\nContent-Type: text/html'
    b"\r\n\r\n<blockquote><blockquote><p>only quotes"),
    b"Content-Type: text/plain; charset=\x00\x00utf-8\r\n\r\nbody",
    b"Content-Type: text/plain; charset=punycode\r\n\r\n" + b"\xd0\xb0" * 1000,
    b"Content-Type: text/plain; charset=zlib\r\n\r\nxx",
    b"Content-Transfer-Encoding: base64\r\n\r\n!!!not base64===",
    b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n!!!\r\nend",
    b"Content-Type: message/rfc822\r\n\r\nFrom: a\r\n\r\nb",
    b"Date: Mon, 02 Mar 99999999999 10:15:00 +0300\r\n\r\nx",
    b"Content-Type: multipart/mixed; boundary=b\r\n\r\n" + b"--b\r\nContent-Type: multipart/mixed;"
    b" boundary=b\r\n\r\n" * 300,
    b"Subject: " + b"=?utf-8?B?0J8=?=" * 5000 + b"\r\n\r\nx",
    b"From: " + b"<" * 5000 + b"\r\n\r\n" + b">" * 5000,
])
def test_malformed_mails_parse_without_raising(raw: bytes) -> None:
    _well_formed(parse_mail(raw))


def test_deep_nesting_keeps_the_headers() -> None:
    nested = b"".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n'.encode()
        for i in range(1_500))
    raw = b"From: ivan@example.test\r\nSubject: deep\r\n" + nested + b"Content-Type: text/plain"
    parsed = parse_mail(raw)
    _well_formed(parsed)
    assert parsed.sender == "ivan@example.test" and parsed.subject == "deep"
