"""SmtpSender against the real SMTP sink (aiosmtpd) and TLS servers on loopback: what arrives, and
how every refusal maps onto the channel error tree without the password or the body in it."""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from email.message import EmailMessage

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from bot.channel import (
    ChannelError,
    PermanentChannelError,
    RecipientGoneError,
    TemporaryChannelError,
)
from channels.email.compose import compose_reply
from channels.email.options import SmtpOptions
from channels.email.smtp_sender import SmtpSender
from tests.channels.email.conftest import TlsFiles
from tests.support.mail import SmtpSink
from tests.support.servers import free_port
from tests.support.silent_server import SilentServer

FROM = "support@abonent.test"
TO = "ivan@example.test"
BODY = "Ваш баланс 100 рублей, номер +79161234567."
PASSWORD = "smtp-Secret-42"


def reply(*, auto: bool = True, to: str = TO) -> EmailMessage:
    return compose_reply(
        from_address=FROM, to_address=to, subject="Re: Баланс", in_reply_to="<m2@example.test>",
        references=("<m1@example.test>",), text=BODY, auto=auto, domain="abonent.test")


def sender_for(sink: SmtpSink, **overrides: object) -> SmtpSender:
    values: dict[str, object] = {"host": sink.host, "port": sink.port, "security": "none"}
    values.update(overrides)
    return SmtpSender(SmtpOptions(**values), timeout=5)  # type: ignore[arg-type]


async def refused(sender: SmtpSender, message: EmailMessage | None = None,
                  recipient: str = TO) -> ChannelError:
    with pytest.raises(ChannelError) as caught:
        await sender.send(message or reply(), recipient=recipient)
    error = caught.value
    assert PASSWORD not in str(error), "the password reached an error message"
    assert "баланс" not in str(error).lower() and "+7916" not in str(error), "the body leaked"
    # a traceback must not show aiosmtplib's exception either (its text may name the recipient)
    assert error.__cause__ is None and (error.__context__ is None or error.__suppress_context__)
    return error


# -- delivery --------------------------------------------------------------------------------

async def test_an_automatic_reply_arrives_threaded(smtp: SmtpSink) -> None:
    sent = reply()
    await sender_for(smtp).send(sent, recipient=TO)
    [mail] = await smtp.wait_for_async(1)
    assert mail.mail_from == FROM and mail.rcpt_tos == [TO]
    got = mail.message
    assert got["Message-ID"] == sent["Message-ID"]
    assert got["In-Reply-To"] == "<m2@example.test>"
    assert got["References"] == "<m1@example.test> <m2@example.test>"
    assert got["Subject"] == "Re: Баланс"
    assert got["Auto-Submitted"] == "auto-replied"
    assert got["X-Auto-Response-Suppress"] == "All"
    plain = got.get_body(("plain",))
    html = got.get_body(("html",))
    assert plain is not None and html is not None
    assert plain.get_content().strip() == BODY
    assert BODY in html.get_content()


async def test_an_agents_reply_arrives_without_the_automatic_marks(smtp: SmtpSink) -> None:
    await sender_for(smtp).send(reply(auto=False), recipient=TO)
    [mail] = await smtp.wait_for_async(1)
    assert "Auto-Submitted" not in mail.message
    assert "X-Auto-Response-Suppress" not in mail.message
    assert mail.message["In-Reply-To"] == "<m2@example.test>"


async def test_the_envelope_goes_to_the_recipient_given(smtp: SmtpSink) -> None:
    await sender_for(smtp).send(reply(to="Иван Петров <ivan@example.test>"),
                                recipient="ivan@example.test")
    [mail] = await smtp.wait_for_async(1)
    assert mail.rcpt_tos == ["ivan@example.test"]
    assert mail.message["To"].addresses[0].display_name == "Иван Петров"


async def test_a_login_when_a_user_is_set(smtp: SmtpSink) -> None:
    smtp.require_auth("abonent", PASSWORD)
    await sender_for(smtp, user="abonent", password=PASSWORD).send(reply(), recipient=TO)
    assert len(await smtp.wait_for_async(1)) == 1
    assert smtp.logins == ["abonent"]


async def test_no_login_without_a_user(smtp: SmtpSink) -> None:
    await sender_for(smtp).send(reply(), recipient=TO)
    assert len(await smtp.wait_for_async(1)) == 1
    assert smtp.logins == []


# -- refusals --------------------------------------------------------------------------------

async def test_a_wrong_password_is_temporary(smtp: SmtpSink) -> None:
    smtp.require_auth("abonent", "the-right-one")
    error = await refused(sender_for(smtp, user="abonent", password=PASSWORD))
    assert type(error) is TemporaryChannelError and error.retry_after == 60
    assert str(error).startswith("SMTP AUTH: 535") and "EMAIL_SMTP_PASSWORD" in str(error)
    assert smtp.messages == []


async def test_a_server_that_wants_a_login_we_lack_is_temporary(smtp: SmtpSink) -> None:
    smtp.require_auth("abonent", PASSWORD)
    error = await refused(sender_for(smtp))
    assert type(error) is TemporaryChannelError and error.retry_after == 60
    assert str(error).startswith("SMTP MAIL FROM: 530") and "EMAIL_SMTP_USER" in str(error)


@pytest.mark.parametrize("stage", ["mail", "rcpt", "data"])
@pytest.mark.parametrize("code", [421, 450, 451, 452])
async def test_4xx_anywhere_is_temporary(smtp: SmtpSink, stage: str, code: int) -> None:
    smtp.fail_next(stage, code, "4.3.0 Try again later")  # type: ignore[arg-type]
    error = await refused(sender_for(smtp))
    assert type(error) is TemporaryChannelError and error.retry_after == 60
    assert f" {code} 4.3.0 Try again later" in str(error)
    await sender_for(smtp).send(reply(), recipient=TO)  # the next attempt goes through
    assert len(await smtp.wait_for_async(1)) == 1


@pytest.mark.parametrize("code", [550, 551, 553])
async def test_5xx_for_the_recipient_means_the_address_is_gone(smtp: SmtpSink,
                                                               code: int) -> None:
    smtp.fail_next("rcpt", code, f"5.1.1 <{TO}>: Recipient address rejected: User unknown")
    error = await refused(sender_for(smtp))
    assert type(error) is RecipientGoneError
    assert str(error) == (f"SMTP RCPT TO: {code} 5.1.1 <<address>>: Recipient address "
                          "rejected: User unknown")
    assert TO not in str(error), "the subscriber's address reached the reason"


@pytest.mark.parametrize(("stage", "label"), [("mail", "MAIL FROM"), ("data", "DATA")])
async def test_5xx_for_the_message_is_permanent(smtp: SmtpSink, stage: str, label: str) -> None:
    smtp.fail_next(stage, 552, "5.3.4 Message rejected as spam")  # type: ignore[arg-type]
    error = await refused(sender_for(smtp))
    assert type(error) is PermanentChannelError
    assert str(error) == f"SMTP {label}: 552 5.3.4 Message rejected as spam"


@pytest.mark.parametrize("recipient", [
    f"{TO}\r\nRCPT TO:<other@example.test>", f"Иван <{TO}>", f"{TO}, other@example.test",
    "ivan", "",
])
async def test_only_a_bare_address_is_a_recipient(smtp: SmtpSink, recipient: str) -> None:
    error = await refused(sender_for(smtp), recipient=recipient)
    assert type(error) is PermanentChannelError
    assert str(error) == "SMTP: the recipient is not a bare e-mail address"
    assert smtp.messages == []


async def test_a_refused_connection_is_temporary() -> None:
    port = free_port()  # nothing listens there
    sender = SmtpSender(SmtpOptions(host="127.0.0.1", port=port, security="none"), timeout=5)
    error = await refused(sender)
    assert type(error) is TemporaryChannelError and str(error).startswith("SMTP: ")


async def test_a_silent_server_times_out_as_temporary() -> None:
    async with SilentServer() as silent:
        sender = SmtpSender(SmtpOptions(host="127.0.0.1", port=silent.port, security="none"),
                            timeout=0.5)
        error = await refused(sender)
    assert type(error) is TemporaryChannelError and str(error) == "SMTP: timed out"


async def test_starttls_demanded_but_not_offered_sends_nothing(smtp: SmtpSink) -> None:
    error = await refused(sender_for(smtp, security="starttls", user="abonent",
                                     password=PASSWORD))
    assert type(error) is TemporaryChannelError and "STARTTLS" in str(error)
    assert smtp.messages == [] and smtp.logins == []


# -- TLS ---------------------------------------------------------------------------------------

class _Capture:
    def __init__(self) -> None:
        self.received: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.received.append(envelope)
        return "250 OK"


class TlsSmtp:
    def __init__(self, controller: Controller, capture: _Capture) -> None:
        self.controller = controller
        self.capture = capture
        self.port = int(controller.port)


@pytest.fixture(params=["starttls", "ssl"])
async def tls_smtp(request: pytest.FixtureRequest, tls_files: TlsFiles) -> AsyncIterator[TlsSmtp]:
    """An aiosmtpd server with STARTTLS (required before MAIL) or implicit TLS."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls_files.cert, tls_files.key)
    capture = _Capture()
    if request.param == "starttls":
        controller = Controller(capture, hostname="127.0.0.1", port=free_port(),
                                tls_context=context, require_starttls=True, ready_timeout=10)
    else:
        controller = Controller(capture, hostname="127.0.0.1", port=free_port(),
                                ssl_context=context, ready_timeout=10)
    controller.start()
    try:
        yield TlsSmtp(controller, capture)
    finally:
        controller.stop()


def tls_sender(server: TlsSmtp, security: str) -> SmtpSender:
    return SmtpSender(SmtpOptions(host="127.0.0.1", port=server.port,
                                  security=security), timeout=5)  # type: ignore[arg-type]


async def test_tls_with_a_trusted_certificate(tls_smtp: TlsSmtp, tls_files: TlsFiles,
                                              monkeypatch: pytest.MonkeyPatch,
                                              request: pytest.FixtureRequest) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.cert))
    security = request.node.callspec.params["tls_smtp"]
    await tls_sender(tls_smtp, security).send(reply(), recipient=TO)
    [envelope] = tls_smtp.capture.received
    assert envelope.rcpt_tos == [TO]


async def test_tls_with_an_untrusted_certificate_sends_nothing(
        tls_smtp: TlsSmtp, tls_files: TlsFiles, monkeypatch: pytest.MonkeyPatch,
        request: pytest.FixtureRequest) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files.other_cert))
    security = request.node.callspec.params["tls_smtp"]
    error = await refused(tls_sender(tls_smtp, security))
    assert type(error) is TemporaryChannelError
    assert "certificate" in str(error).lower()
    assert tls_smtp.capture.received == []
