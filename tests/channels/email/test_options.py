"""EmailOptions.from_values: the defaults, every malformed EMAIL_* value named in a clear error,
passwords kept out of reprs and messages, and the clear-text warning for ``none`` off loopback."""

from __future__ import annotations

import pytest

from channels.email.options import EmailConfigError, EmailOptions, ImapOptions, SmtpOptions

IMAP_PASSWORD = "imap-Secret-42"
SMTP_PASSWORD = "smtp-Secret-43"


def options(**overrides: str | None) -> EmailOptions:
    values: dict[str, str | None] = {
        "imap_host": "imap.example.com", "imap_user": "support@example.com",
        "imap_password": IMAP_PASSWORD, "smtp_host": "smtp.example.com",
    }
    values.update(overrides)
    return EmailOptions.from_values(**values)


def config_error(**overrides: str | None) -> str:
    with pytest.raises(EmailConfigError) as caught:
        options(**overrides)
    message = str(caught.value)
    assert IMAP_PASSWORD not in message and SMTP_PASSWORD not in message
    return message


def test_defaults() -> None:
    chosen = options()
    assert chosen.imap == ImapOptions(host="imap.example.com", port=993,
                                      user="support@example.com", password=IMAP_PASSWORD,
                                      security="ssl", folder="INBOX")
    assert chosen.smtp == SmtpOptions(host="smtp.example.com", port=587, user=None,
                                      password=None, security="starttls")
    assert chosen.from_address == "support@example.com"  # the IMAP user, an address
    assert chosen.domain == "example.com"
    assert chosen.warnings() == []
    assert chosen.secrets == (IMAP_PASSWORD,)


def test_every_value_given() -> None:
    chosen = options(
        imap_host=" mail.example.com ", imap_port="1993", imap_user="support",
        imap_security=" STARTTLS ", imap_folder="Support", smtp_host="mail.example.com",
        smtp_port="2525", smtp_user="relay", smtp_password=SMTP_PASSWORD + "\n",
        smtp_security="ssl", from_address="Help@Example.com")
    assert chosen.imap == ImapOptions(host="mail.example.com", port=1993, user="support",
                                      password=IMAP_PASSWORD, security="starttls",
                                      folder="Support")
    assert chosen.smtp == SmtpOptions(host="mail.example.com", port=2525, user="relay",
                                      password=SMTP_PASSWORD, security="ssl")
    assert chosen.from_address == "Help@Example.com" and chosen.domain == "example.com"
    assert set(chosen.secrets) == {IMAP_PASSWORD, SMTP_PASSWORD}


@pytest.mark.parametrize(("imap_security", "imap_port", "smtp_security", "smtp_port"), [
    ("ssl", 993, "starttls", 587),
    ("starttls", 143, "ssl", 465),
    ("none", 143, "none", 25),
])
def test_default_ports_follow_the_security(imap_security: str, imap_port: int,
                                           smtp_security: str, smtp_port: int) -> None:
    chosen = options(imap_host="127.0.0.1", smtp_host="localhost", imap_security=imap_security,
                     smtp_security=smtp_security)
    assert (chosen.imap.port, chosen.smtp.port) == (imap_port, smtp_port)


def test_empty_strings_are_unset() -> None:
    chosen = options(imap_port="", imap_security=" ", imap_folder="", smtp_port="",
                     smtp_user="", smtp_password="", smtp_security="", from_address="")
    assert chosen == options()


def test_a_password_keeps_its_spaces() -> None:
    assert options(imap_password=" pass word \r\n").imap.password == " pass word "


def test_passwords_are_not_in_reprs() -> None:
    chosen = options(smtp_user="relay", smtp_password=SMTP_PASSWORD)
    for text in (repr(chosen), repr(chosen.imap), repr(chosen.smtp), str(chosen)):
        assert IMAP_PASSWORD not in text and SMTP_PASSWORD not in text
    assert "support@example.com" in repr(chosen.imap)  # the rest is there, for debugging


@pytest.mark.parametrize(("overrides", "variable"), [
    ({"imap_host": None}, "EMAIL_IMAP_HOST is not set"),
    ({"imap_host": "  "}, "EMAIL_IMAP_HOST is not set"),
    ({"imap_user": None}, "EMAIL_IMAP_USER is not set"),
    ({"imap_password": None}, "EMAIL_IMAP_PASSWORD is not set"),
    ({"imap_password": "\n"}, "EMAIL_IMAP_PASSWORD is not set"),
    ({"smtp_host": ""}, "EMAIL_SMTP_HOST is not set"),
])
def test_missing_values_are_named(overrides: dict[str, str | None], variable: str) -> None:
    assert config_error(**overrides) == variable


@pytest.mark.parametrize(("overrides", "expected"), [
    ({"imap_port": "99999"}, "EMAIL_IMAP_PORT must be a port number (1-65535), not '99999'"),
    ({"imap_port": "0"}, "EMAIL_IMAP_PORT must be a port number"),
    ({"imap_port": "993a"}, "EMAIL_IMAP_PORT must be a port number"),
    ({"smtp_port": "-25"}, "EMAIL_SMTP_PORT must be a port number"),
    ({"smtp_port": "٢٥"}, "EMAIL_SMTP_PORT must be a port number"),  # digits, but not ASCII
    ({"imap_security": "tls"}, "EMAIL_IMAP_SECURITY must be one of ssl, starttls, none, not 'tls'"),
    ({"smtp_security": "yes"}, "EMAIL_SMTP_SECURITY must be one of starttls, ssl, none"),
    ({"imap_host": "imaps://mail.example.com"}, "EMAIL_IMAP_HOST must be a host name"),
    ({"smtp_host": "mail example com"}, "EMAIL_SMTP_HOST must be a host name"),
    ({"imap_folder": "In\nbox"}, "EMAIL_IMAP_FOLDER contains a control character"),
    ({"imap_user": "sup\rport"}, "EMAIL_IMAP_USER contains a control character"),
    ({"from_address": "Support <support@example.com>"}, "EMAIL_FROM must be a bare e-mail"),
    ({"from_address": "support"}, "EMAIL_FROM must be a bare e-mail address"),
    ({"from_address": "support@example..com"}, "EMAIL_FROM must be a bare e-mail address"),
    ({"imap_user": "support"}, "EMAIL_FROM is not set and EMAIL_IMAP_USER is not an e-mail"),
    ({"smtp_user": "relay"}, "EMAIL_SMTP_USER is set but EMAIL_SMTP_PASSWORD is not"),
    ({"smtp_password": SMTP_PASSWORD}, "EMAIL_SMTP_PASSWORD is set but EMAIL_SMTP_USER is not"),
])
def test_malformed_values_are_named(overrides: dict[str, str | None], expected: str) -> None:
    assert config_error(**overrides).startswith(expected)


@pytest.mark.parametrize("variable", ["imap_password", "smtp_password"])
def test_a_password_with_a_line_break_inside_is_refused_without_showing_it(
        variable: str) -> None:
    secret = "first\nsecond"
    overrides = {variable: secret} | ({"smtp_user": "relay"} if variable == "smtp_password"
                                      else {})
    message = config_error(**overrides)
    assert "line break" in message and "first" not in message and "second" not in message


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "localhost", "::1", "[::1]",
                                  "mail.localhost"])
def test_none_on_loopback_is_quiet(host: str) -> None:
    chosen = options(imap_host=host, smtp_host=host, imap_security="none", smtp_security="none",
                     smtp_user="relay", smtp_password=SMTP_PASSWORD)
    assert chosen.imap.security == chosen.smtp.security == "none"
    assert chosen.warnings() == []


def test_none_elsewhere_is_allowed_with_a_warning() -> None:
    chosen = options(imap_security="none", smtp_security="none", smtp_user="relay",
                     smtp_password=SMTP_PASSWORD)
    imap_warning, smtp_warning = chosen.warnings()
    assert imap_warning.startswith("EMAIL_IMAP_SECURITY=none")
    assert "imap.example.com" in imap_warning
    assert imap_warning.endswith("sends the password in clear text")
    assert smtp_warning.startswith("EMAIL_SMTP_SECURITY=none")
    assert smtp_warning.endswith("sends the password in clear text")
    for warning in chosen.warnings():
        assert IMAP_PASSWORD not in warning and SMTP_PASSWORD not in warning


def test_smtp_none_without_a_login_warns_about_the_mail_only() -> None:
    [warning] = options(smtp_security="none").warnings()
    assert warning.startswith("EMAIL_SMTP_SECURITY=none") and "password" not in warning


def test_inbox_is_spelled_the_standard_way() -> None:
    assert options(imap_folder="inbox").imap.folder == "INBOX"
    assert options(imap_folder="Входящие").imap.folder == "Входящие"
