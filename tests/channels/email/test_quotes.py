"""strip_quotes: the new text of real clients' replies, quotes and signatures gone."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from channels.email.quotes import strip_quotes

NEW = "Спасибо, интернет заработал. Но баланс всё ещё минус 5 рублей."

# How each client puts the quoted history under the subscriber's answer (text/plain parts).
REPLIES = {
    "gmail ru": f"""\
{NEW}

пн, 2 мар. 2026 г. в 10:15, Support <support@example.test>:

> Здравствуйте, Иван!
> Перезагрузите телефон.
>
> --
> Служба поддержки
""",
    "gmail ru, header wrapped": f"""\
{NEW}

пн, 2 мар. 2026 г. в 10:15, Служба поддержки мобильного оператора <
support@example.test>:

> Здравствуйте!
""",
    "gmail en": f"""\
{NEW}

On Mon, Mar 2, 2026 at 10:15 AM Support <support@example.test> wrote:

> Hello Ivan,
> please restart the phone.
""",
    "gmail en, header wrapped": f"""\
{NEW}

On Mon, Mar 2, 2026 at 10:15 AM Customer Support Team of the Operator <support@example.test>
wrote:

> Hello Ivan,
""",
    "yandex": f"""\
{NEW}

02.03.2026, 10:15, "Support" <support@example.test>:
> Здравствуйте! Укажите номер телефона.
""",
    "yandex, quote not marked": f"""\
{NEW}

02.03.2026, 10:15, "Support" <support@example.test>:
Здравствуйте! Укажите номер телефона.

С уважением, служба поддержки
""",
    "mail.ru": f"""\
{NEW}


Понедельник, 2 марта 2026, 10:15 +03:00 от Support <support@example.test>:

>Здравствуйте!
>Уточните дату списания.
>
>--
>Служба поддержки
""",
    "mail.ru, quote not marked": f"""\
{NEW}

Понедельник, 2 марта 2026, 10:15 +03:00 от Support <support@example.test>:
  Здравствуйте!
  Уточните дату списания.
""",
    "thunderbird en": f"""\
{NEW}

On 3/2/26 10:15 AM, Support wrote:
> Hello Ivan,
> please restart the phone.
""",
    "thunderbird ru": f"""\
{NEW}

02.03.2026 10:15, Support пишет:
> Здравствуйте!
> Перезагрузите телефон.
""",
    "russian, header wrapped": f"""\
{NEW}

В понедельник, 2 марта 2026 г., 10:15 Иван <ivan@example.test>
пишет:
Здравствуйте!
""",
    "написал(а)": f"""\
{NEW}

2 марта 2026 г., в 10:15, Support <support@example.test> написал(а):

> Здравствуйте!
""",
    "написала, not marked": f"""\
{NEW}

02.03.2026 в 10:15 Мария Support <support@example.test> написала:
Здравствуйте!
""",
    "apple mail macos ru": f"""\
{NEW}

> 2 марта 2026 г., в 10:15, Support <support@example.test> написал(а):
>
> Здравствуйте!
""",
    "apple mail ios en": f"""\
{NEW}

Sent from my iPhone

> On 2 Mar 2026, at 10:15, Support <support@example.test> wrote:
>
> Hello Ivan,
""",
    "outlook ru": f"""\
{NEW}

С уважением,
Иван Петров
+375 29 123-45-67

________________________________
От: Support <support@example.test>
Отправлено: 2 марта 2026 г. 10:15
Кому: Иван Петров <ivan@example.test>
Тема: RE: Интернет

Здравствуйте! Перезагрузите телефон.
""",
    "outlook ru, keys in another order": f"""\
{NEW}

Тема: RE: Интернет
От: Support <support@example.test>
Дата: понедельник, 2 марта 2026 г. 10:15
Кому: Иван Петров <ivan@example.test>

Здравствуйте!
""",
    "outlook en": f"""\
{NEW}

Best regards,
Ivan

From: Support <support@example.test>
Sent: Monday, March 2, 2026 10:15 AM
To: Ivan Petrov <ivan@example.test>
Subject: RE: Internet

Hello Ivan,
""",
    "outlook, bold keys from html": f"""\
{NEW}

*From:* Support <support@example.test>
*Sent:* Monday, March 2, 2026 10:15 AM
*To:* Ivan Petrov <ivan@example.test>
""",
    "outlook original message": f"""\
{NEW}

-----Original Message-----
From: Support [mailto:support@example.test]
Sent: Monday, March 2, 2026 10:15 AM
""",
    "outlook исходное сообщение": f"""\
{NEW}

-----Исходное сообщение-----
От: Support [mailto:support@example.test]
Отправлено: 2 марта 2026 г. 10:15
""",
    "german, via mail-parser-reply": f"""\
{NEW}

Am 02.03.2026 um 10:15 schrieb Support <support@example.test>:
Hallo Ivan,
""",
    "french, via mail-parser-reply": f"""\
{NEW}

Le lun. 2 mars 2026 à 10:15, Support <support@example.test> a écrit :
Bonjour Ivan,
""",
    "unknown language before a '>' block": f"""\
{NEW}

W dniu 2.03.2026 o 10:15, Support <support@example.test> pisze:
> Dzień dobry
""",
}


@pytest.mark.parametrize("mail", REPLIES.values(), ids=REPLIES.keys())
def test_the_quoted_history_of_each_client_is_cut(mail: str) -> None:
    assert strip_quotes(mail) == NEW


WORDS = ["интернет", "баланс", "не", "работает", "почему", "списали", "5", "рублей", "SIM-карта",
         "roaming", "Польша", "тариф", "Смарт", "вчера", "10:15", "ivan@example.test", "+375291234567",
         "працуе", "help", "please", "номер"]  # no closings ("дзякуй."): those are signatures
LINES = st.lists(st.sampled_from(WORDS), min_size=1, max_size=8).map(" ".join).map(
    lambda line: line[0].upper() + line[1:] + ".")


@settings(max_examples=150, deadline=None)
@given(st.lists(LINES, min_size=1, max_size=5).map("\n".join), st.sampled_from(sorted(REPLIES)))
def test_any_new_text_before_any_clients_quote_is_kept_exactly(new: str, client: str) -> None:
    assert strip_quotes(REPLIES[client].replace(NEW, new)) == new


BELARUSIAN = {
    "напісаў(ла)": """\
Дзякуй, усё працуе.

З павагай,
Алесь

пн, 2 сак 2026 г. у 10:15 Support <support@example.test> напісаў(ла):
> Добры дзень!
""",
    "пісаў(ла), wrapped": """\
Дзякуй, усё працуе.

У панядзелак, 2 сакавіка 2026 г., 10:15 Support <support@example.test>
пісаў(ла):
Добры дзень!
""",
    "outlook be": """\
Дзякуй, усё працуе.

Адпраўлена з iPhone

Ад: Support <support@example.test>
Адпраўлена: 2 сакавіка 2026 г. 10:15
Каму: Алесь <ales@example.test>
""",
}


@pytest.mark.parametrize("mail", BELARUSIAN.values(), ids=BELARUSIAN.keys())
def test_belarusian_replies(mail: str) -> None:
    assert strip_quotes(mail) == "Дзякуй, усё працуе."


def test_a_multi_line_answer_keeps_its_lines_and_paragraphs() -> None:
    mail = """\
Добрый день!

Номер +375291234567.
Тариф «Смарт», списали 5 рублей 2 марта.

пн, 2 мар. 2026 г. в 10:15, Support <support@example.test>:
> Укажите номер.
"""
    assert strip_quotes(mail) == (
        "Добрый день!\n\nНомер +375291234567.\nТариф «Смарт», списали 5 рублей 2 марта.")


def test_crlf_line_ends() -> None:
    mail = f"{NEW}\r\n\r\nOn 3/2/26 10:15 AM, Support wrote:\r\n> Hello\r\n"
    assert strip_quotes(mail) == NEW


def test_an_inline_reply_keeps_the_answers_between_the_quotes_in_order() -> None:
    mail = """\
On 3/2/26 10:15 AM, Support wrote:
> Укажите номер телефона.
+375291234567
> Какой у вас тариф?

Безлимит

> С уважением, поддержка
"""
    assert strip_quotes(mail) == "+375291234567\n\nБезлимит"


def test_an_answer_before_and_between_quotes() -> None:
    mail = """\
Ответил ниже.

02.03.2026 10:15, Support пишет:
> Номер?
+375291234567
"""
    assert strip_quotes(mail) == "Ответил ниже.\n\n+375291234567"


def test_a_time_in_the_last_line_does_not_join_a_bare_attribution() -> None:
    mail = "Звоните после 18:00\nSupport wrote:\n> Когда вам удобно?\n"
    assert strip_quotes(mail) == "Звоните после 18:00"


def test_a_quote_block_without_a_header() -> None:
    assert strip_quotes("> Ваш номер?\n\nНомер +375291234567") == "Номер +375291234567"


def test_a_mail_that_is_only_a_quote_has_no_new_text() -> None:
    mail = "On 3/2/26 10:15 AM, Support wrote:\n> Hello\n> Bye\n"
    assert strip_quotes(mail) == ""
    assert strip_quotes("   \n\n") == ""


# --------------------------------------------------------------------------- forwards


def test_a_forward_keeps_the_forwarded_mail() -> None:
    mail = """\
Это правда от вас? Мне пришло такое письмо.

-------- Пересылаемое сообщение --------
02.03.2026, 10:15, "Bank" <noreply@bank.example.test>:
Ваша SIM-карта будет заблокирована. Перейдите по ссылке.
"""
    assert strip_quotes(mail) == mail.strip()


def test_a_gmail_forward_keeps_its_header_block() -> None:
    mail = """\
Посмотрите, пожалуйста.

---------- Forwarded message ---------
From: Bank <noreply@bank.example.test>
Date: Mon, Mar 2, 2026 at 10:15 AM
Subject: Блокировка
To: <ivan@example.test>

Ваша SIM-карта будет заблокирована.
"""
    assert strip_quotes(mail) == mail.strip()


def test_a_forward_without_a_comment_is_the_forwarded_mail() -> None:
    mail = "---------- Forwarded message ---------\nFrom: Bank <b@example.test>\n\nТекст\n"
    assert strip_quotes(mail) == mail.strip()


def test_a_forward_quoted_in_a_reply_is_history() -> None:
    mail = """\
Спасибо за ответ.

02.03.2026 10:15, Support пишет:
> Это мошенники.
> -------- Пересылаемое сообщение --------
> Ваша SIM-карта будет заблокирована.
"""
    assert strip_quotes(mail) == "Спасибо за ответ."


def test_an_outlook_forward_keeps_the_header_block_when_the_subject_says_so() -> None:
    mail = """\
Это от вас?

________________________________
From: Bank <noreply@bank.example.test>
Sent: Monday, March 2, 2026 10:15 AM
To: Ivan <ivan@example.test>
Subject: Блокировка

Ваша SIM-карта будет заблокирована.
"""
    assert strip_quotes(mail, forwarded=True) == (
        "Это от вас?\n\n" + mail.split("________________________________\n", 1)[1].strip())
    assert strip_quotes(mail) == "Это от вас?", "without the subject's word it is a reply"


# --------------------------------------------------------------------------- signatures


SIGNED = {
    "rfc 3676": "-- \nИван Петров\nООО «Ромашка»\n+375 29 123-45-67\nwww.example.test\nг. Минск",
    "rfc 3676 without the space": "--\nИван Петров",
    "с уважением": "С уважением,\nИван Петров\n+375 29 123-45-67",
    "с уважением without comma": "С уважением\nИван",
    "с уважением and the name on one line": "С уважением, Иван Петров",
    "best regards": "Best regards,\nIvan Petrov\nACME Ltd.",
    "regards and name": "Regards, Ivan",
    "з павагай": "З павагай,\nАлесь",
    "спасибо": "Спасибо!\nИван",
    "iphone ru": "Отправлено с iPhone",
    "iphone en": "Sent from my iPhone",
    "mail.ru app": "Отправлено из мобильной Почты Mail.ru",
    "mail.ru en": "Sent from Mail.ru",
    "yandex app": "Отправлено из мобильной Яндекс Почты",
    "outlook app": "Get Outlook for Android",
    "closing then app": "С уважением,\nИван\n\nОтправлено с iPhone",
    "german, via mail-parser-reply": "Gesendet von meinem Galaxy",
}


@pytest.mark.parametrize("signature", SIGNED.values(), ids=SIGNED.keys())
def test_a_trailing_signature_is_cut(signature: str) -> None:
    assert strip_quotes(f"Не работает интернет.\nПомогите.\n\n{signature}\n") == (
        "Не работает интернет.\nПомогите.")


def test_a_signature_before_the_quote_is_cut_too() -> None:
    mail = f"""\
{NEW}

--
Иван

02.03.2026 10:15, Support пишет:
> Здравствуйте!
"""
    assert strip_quotes(mail) == NEW


NOT_SIGNED = {
    "thanks in a sentence": "Не работает интернет.\nThanks, it works now",
    "a long text after the closing": (
        "Добрый день.\nС уважением,\nпрошу разобраться: деньги списали дважды, "
        "хотя услуга не подключалась."),
    "more than four lines after": "Вопрос.\nС уважением,\nИван\n1\n2\n3\n4",
    "sent with a number": "Вопрос.\nОтправлено с номера +375291234567, но не дошло",
    "sent from my card": "Money is gone.\nSent from my card 10 USD, never arrived",
    "a list": "Не работает:\n- интернет\n- звонки",
}


@pytest.mark.parametrize("mail", NOT_SIGNED.values(), ids=NOT_SIGNED.keys())
def test_what_only_looks_like_a_signature_stays(mail: str) -> None:
    assert strip_quotes(mail) == mail


def test_a_mail_that_is_only_a_signature_is_not_cut_to_nothing() -> None:
    assert strip_quotes("С уважением, Иван Петров") == "С уважением, Иван Петров"
    assert strip_quotes("Спасибо!") == "Спасибо!"


# --------------------------------------------------------------------------- not quotes


NOT_QUOTES = {
    "someone's words quoted by the subscriber": (
        "Звонил оператору, он пишет:\nПерезагрузите телефон.\nНо это не помогло."),
    "an sms with a time": "В 10:15 пришло SMS, пишет:\nВаш баланс 0 руб.\nЭто ошибка?",
    "a form with a date and a subject": "Тема: списание\nДата: 02.03.2026\nСумма: 5 рублей",
    "a colon after an address": "Пишу с нового адреса ivan@example.test:\nстарый не работает.",
    "english to-do": "To do: check the balance.\nSubject: roaming in Poland",
}


@pytest.mark.parametrize("mail", NOT_QUOTES.values(), ids=NOT_QUOTES.keys())
def test_the_subscribers_own_text_is_not_taken_for_a_quote(mail: str) -> None:
    assert strip_quotes(mail) == mail
