"""loop_reason: the mails that must never get an automatic reply (RFC 3834), and the ones that
must."""

from __future__ import annotations

import email
from email import policy
from email.message import Message

import pytest

from channels.email.loop_guard import loop_reason
from tests.channels.email import mails

OWN = ("support@example.test", "Noreply-Robot@Example.Test")


def message(raw: bytes) -> Message:
    return email.message_from_bytes(raw, policy=policy.default)


def reason(raw: bytes, own: tuple[str, ...] = OWN) -> str | None:
    return loop_reason(message(raw), own_addresses=own)


def with_headers(*headers: tuple[str, str], from_: str = mails.DEFAULT_FROM) -> bytes:
    return mails.plain_mail("Не работает интернет.", from_=from_, headers=headers)


def test_a_person_may_get_a_reply() -> None:
    assert reason(mails.plain_mail()) is None
    assert reason(mails.attachments_mail()) is None
    assert reason(mails.legacy_mail(charset="windows-1251")) is None
    assert reason(with_headers(("Auto-Submitted", "no"))) is None, "explicitly not automatic"
    assert reason(with_headers(("Auto-Submitted", " No "))) is None
    assert reason(with_headers(("Precedence", "first-class"))) is None
    assert reason(with_headers(("Return-Path", "<ivan@example.test>"))) is None
    assert reason(with_headers(("X-Auto-Response-Suppress", "None"))) is None


@pytest.mark.parametrize(("headers", "expected"), [
    ((("Auto-Submitted", "auto-replied"),), "Auto-Submitted: auto-replied"),
    ((("Auto-Submitted", "Auto-Generated"),), "Auto-Submitted: auto-generated"),
    ((("Auto-Submitted", 'auto-replied; owner-email="ivan@example.test"'),),
     "Auto-Submitted: auto-replied"),
    ((("Auto-Submitted", "auto-notified"),), "Auto-Submitted: auto-notified"),
    ((("Auto-Submitted", "ivan@example.test writes things"),), "Auto-Submitted present"),
    ((("Return-Path", "<>"),), "empty envelope sender"),
    ((("Return-Path", "< >"),), "empty envelope sender"),
    ((("Precedence", "bulk"),), "Precedence: bulk"),
    ((("Precedence", "LIST"),), "Precedence: list"),
    ((("Precedence", "junk"),), "Precedence: junk"),
    ((("Precedence", "auto_reply"),), "Precedence: auto_reply"),
    ((("List-Id", "<news.example.test>"),), "mailing list (List-Id)"),
    ((("List-Unsubscribe", "<mailto:u@example.test>"),), "mailing list (List-Unsubscribe)"),
    ((("List-Post", "NO"),), "mailing list (List-Post)"),
    ((("Archived-At", "<https://lists.example.test/1>"),), "mailing list (Archived-At)"),
    ((("X-Auto-Response-Suppress", "All"),), "X-Auto-Response-Suppress: All"),
    ((("X-Auto-Response-Suppress", "DR, RN, NRN, OOF, AutoReply"),),
     "X-Auto-Response-Suppress: DR"),
    ((("X-Auto-Response-Suppress", "oof"),), "X-Auto-Response-Suppress: OOF"),
    ((("X-Autoreply", "yes"),), "autoreply header (X-Autoreply)"),
    ((("X-Autorespond", "Ivan"),), "autoreply header (X-Autorespond)"),
])
def test_automatic_and_bulk_mail_is_never_answered(
        headers: tuple[tuple[str, str], ...], expected: str) -> None:
    assert reason(with_headers(*headers)) == expected


@pytest.mark.parametrize(("sender", "expected"), [
    ("MAILER-DAEMON@mx.example.test", "sender mailer-daemon@"),
    ("Mail Delivery System <Mailer-Daemon@mx.example.test>", "sender mailer-daemon@"),
    ("MAILER-DAEMON", "sender mailer-daemon@"),
    ("postmaster@example.test", "sender postmaster@"),
    ("Банк <noreply@bank.example.test>", "sender noreply@"),
    ("no-reply@bank.example.test", "sender no-reply@"),
    ("NO_REPLY@bank.example.test", "sender no-reply@"),
    ("do-not-reply@bank.example.test", "sender do-not-reply@"),
    ("DoNotReply@bank.example.test", "sender donotreply@"),
    ("bounce@bank.example.test", "sender bounce@"),
    ("bounces+12345@mail.example.test", "sender bounces@"),
    ("owner-news@lists.example.test", "sender owner-…@"),
    ("news-request@lists.example.test", "sender …-request@"),
    ("Support <SUPPORT@example.test>", "our own address"),
    ("noreply-robot@example.test", "our own address"),
])
def test_robots_and_ourselves_are_never_answered(sender: str, expected: str) -> None:
    got = reason(with_headers(from_=sender))
    assert got == expected
    assert "example" not in got and "bank" not in got, "no address in the reason"


def test_our_own_address_anywhere_a_reply_could_go() -> None:
    for header in ("Sender", "Reply-To", "Return-Path"):
        assert reason(with_headers((header, "<support@example.test>"))) == "our own address"
    assert reason(with_headers(("Reply-To", "support@example.test")), own=()) is None


def test_a_robot_in_the_envelope_counts() -> None:
    assert reason(with_headers(("Return-Path", "<owner-news@lists.example.test>"))) == (
        "sender owner-…@")
    assert reason(with_headers(("Sender", "news-request@lists.example.test"))) == (
        "sender …-request@")


def test_lookalike_senders_are_people() -> None:
    for sender in ("noreplyivan@example.test", "ivan.bounce@example.test",
                   "requester@example.test", "owner@example.test",
                   "Иван <ivan-no-reply-please@example.test>"):
        assert reason(with_headers(from_=sender)) is None, sender


def test_the_bounce_and_the_out_of_office_builders() -> None:
    assert reason(mails.bounce_mail()) == "Auto-Submitted: auto-replied"
    assert reason(mails.out_of_office_mail()) == "Auto-Submitted: auto-replied"
    assert reason(mails.list_mail()) == "Precedence: list"


def test_a_bounce_is_recognised_by_each_of_its_signs_alone() -> None:
    bare = mails.bounce_mail(from_="Ivan <ivan@example.test>", return_path=None,
                             auto_submitted=None)
    assert reason(bare) == "bounce or receipt (multipart/report)"
    empty_envelope = mails.bounce_mail(from_="ivan@example.test", auto_submitted=None)
    assert reason(empty_envelope) == "empty envelope sender"
    daemon = mails.plain_mail("Undelivered", from_="MAILER-DAEMON <MAILER-DAEMON@mx.example.test>")
    assert reason(daemon) == "sender mailer-daemon@"


def test_a_delivery_status_part_inside_a_mixed_mail_counts() -> None:
    raw = mails.raw_mail(
        ["From: ivan@example.test", "Subject: x",
         'Content-Type: multipart/mixed; boundary="b"'],
        b"--b\nContent-Type: text/plain\n\nhi\n--b\nContent-Type: message/delivery-status\n\n"
        b"Action: failed\n--b--\n")
    assert reason(raw) == "delivery report (message/delivery-status)"


def test_a_read_receipt_is_never_answered() -> None:
    raw = mails.raw_mail(
        ["From: ivan@example.test", "Subject: Прочитано: Баланс",
         'Content-Type: multipart/report; report-type=disposition-notification; boundary="b"'],
        b"--b\nContent-Type: text/plain\n\nRead.\n--b\n"
        b"Content-Type: message/disposition-notification\n\nDisposition: manual-action\n--b--\n")
    assert reason(raw) == "bounce or receipt (multipart/report)"


def test_a_bounce_the_subscriber_forwards_as_an_attachment_is_a_question() -> None:
    raw = mails.raw_mail(
        ["From: Иван <ivan@example.test>", "Subject: Почему не доходит?",
         'Content-Type: multipart/mixed; boundary="b"'],
        b"--b\nContent-Type: text/plain; charset=utf-8\n\n\xd0\x9f\xd0\xbe\xd1\x87\xd0\xb5\xd0\xbc"
        b"\xd1\x83?\n--b\nContent-Type: message/rfc822\n\n" + mails.bounce_mail() + b"\n--b--\n")
    assert reason(raw) is None


def test_malformed_headers_do_not_make_the_guard_raise() -> None:
    raw = mails.raw_mail(
        [b"From: \xff\xfe <<<@@@>>>", b"Auto-Submitted: \xd0\xb0\xd0\xb2\xd1\x82\xd0\xbe",
         b"Content-Type: multipart/report; boundary=", b"Return-Path: <<>"], b"--\n\x00\x00")
    assert reason(raw) == "Auto-Submitted present"
    broken_from = mails.raw_mail([b"From: =?utf-8?B?!!!?= <<x", b"Subject: x"], b"hi")
    assert reason(broken_from) is None
