"""The embedded demo billing: the shipped demo data, its validation (every problem names file
and line), and the in-memory roaming toggles and idempotent bonuses."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from backoffice.billing_demo import DEFAULT_DEMO_DATA, DemoBilling, DemoDataError
from bot.backoffice_contract import BackofficeError, Billing
from tests.backoffice.fake_billing import random_msisdn

GOOD = """\
# DEMO DATA — not real subscribers
subscribers:
  - msisdn: "375291112233"
    balance: "12.34"
    currency: BYN
    tariff: Demo
    roaming: false
    status: active
  - msisdn: "375333334455"
    balance: -3.5
    currency: BYN
    tariff: null
    roaming: true
    status: blocked
    bonuses:
      - kind: traffic_mb
        amount: 100
        reason: demo
        idempotency_key: b-1
        used: true
        granted_at: 2024-03-01T10:00:00+03:00
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "subscribers.yml"
    path.write_text(text, encoding="utf-8")
    return path


def _line_of(text: str, marker: str = "# <-") -> int:
    """The 1-based line carrying ``marker`` (the broken line of a test file)."""
    for number, line in enumerate(text.splitlines(), start=1):
        if marker in line:
            return number
    raise AssertionError(f"no {marker!r} in the test file")


# -- the shipped demo data ---------------------------------------------------------------------

def test_the_demo_file_is_marked_and_loads() -> None:
    text = DEFAULT_DEMO_DATA.read_text(encoding="utf-8")
    assert text.startswith("# DEMO DATA — not real subscribers")
    billing = DemoBilling.load()
    assert 5 <= len(billing.msisdns) <= 6
    for msisdn in billing.msisdns:
        assert msisdn[:5] in ("37529", "37533", "37544", "37525") and len(msisdn) == 12


async def test_the_demo_covers_the_cases_the_answers_need() -> None:
    billing = DemoBilling.load()
    accounts = [await billing.subscriber(msisdn) for msisdn in billing.msisdns]
    assert all(account is not None for account in accounts)
    known = [account for account in accounts if account is not None]
    assert any(a.balance.amount < 0 for a in known)
    assert any(a.balance.amount > 0 for a in known)
    assert any(a.roaming_enabled for a in known)
    assert any(a.status == "blocked" for a in known)
    assert all(a.balance.currency == "BYN" for a in known)
    used = [b for a in known for b in await billing.bonuses(a.msisdn) if b.used]
    assert used  # "what about my bonus" has something to show


async def test_a_loaded_file_gives_its_figures(tmp_path: Path) -> None:
    billing: Billing = DemoBilling.load(_write(tmp_path, GOOD))
    first = await billing.subscriber("375291112233")
    assert first is not None
    assert (first.balance.amount, first.balance.currency, first.tariff) == (
        Decimal("12.34"), "BYN", "Demo")
    assert (first.roaming_enabled, first.status) == (False, "active")
    second = await billing.subscriber("375333334455")
    assert second is not None
    assert second.balance.amount == Decimal("-3.5") and second.tariff is None
    assert second.roaming_enabled and second.status == "blocked"
    [bonus] = await billing.bonuses("375333334455")
    assert (bonus.kind, bonus.amount, bonus.idempotency_key, bonus.used) == (
        "traffic_mb", 100, "b-1", True)
    assert bonus.granted_at is not None and bonus.granted_at.isoformat() == (
        "2024-03-01T10:00:00+03:00")
    assert await billing.bonuses("375291112233") == []


async def test_any_other_number_is_none_and_garbage_is_refused() -> None:
    billing = DemoBilling.load()
    stranger = random_msisdn()
    while stranger in billing.msisdns:
        stranger = random_msisdn()
    assert await billing.subscriber(stranger) is None
    for bad in ("", "+375291112233", "375 29 111 22 33", "12345", "0291112233"):
        with pytest.raises(ValueError, match="7-15 digits"):
            await billing.subscriber(bad)
        with pytest.raises(ValueError, match="7-15 digits"):
            await billing.set_roaming(bad, True)


async def test_roaming_toggles_stay_in_this_object(tmp_path: Path) -> None:
    path = _write(tmp_path, GOOD)
    billing = DemoBilling.load(path)
    assert await billing.set_roaming("375291112233", True) is True
    account = await billing.subscriber("375291112233")
    assert account is not None and account.roaming_enabled
    assert account.balance.amount == Decimal("12.34")  # nothing else changed
    assert await billing.set_roaming("375333334455", False) is False
    account = await billing.subscriber("375333334455")
    assert account is not None and not account.roaming_enabled
    # another instance starts from the file again, and the file is untouched
    fresh = await DemoBilling.load(path).subscriber("375291112233")
    assert fresh is not None and not fresh.roaming_enabled
    assert path.read_text(encoding="utf-8") == GOOD
    with pytest.raises(BackofficeError, match="no such demo subscriber"):
        await billing.set_roaming("375447770000", True)


async def test_bonuses_are_granted_once_per_key(tmp_path: Path) -> None:
    billing = DemoBilling.load(_write(tmp_path, GOOD))
    msisdn = "375291112233"
    for _ in range(2):
        await billing.grant_bonus(msisdn, kind="traffic_mb", amount=100, reason="outage",
                                  idempotency_key="g-1")
    await billing.grant_bonus(msisdn, kind="traffic_mb", amount=200, reason="again",
                              idempotency_key="g-2")
    bonuses = await billing.bonuses(msisdn)
    assert [(b.idempotency_key, b.amount, b.used) for b in bonuses] == [
        ("g-1", 100, False), ("g-2", 200, False)]
    assert all(b.granted_at is not None and b.granted_at.tzinfo for b in bonuses)
    with pytest.raises(BackofficeError, match="different bonus"):
        await billing.grant_bonus(msisdn, kind="traffic_mb", amount=999, reason="x",
                                  idempotency_key="g-1")
    # a key is per subscriber; the file's own bonus key is taken for its owner
    await billing.grant_bonus("375333334455", kind="traffic_mb", amount=100, reason="demo",
                              idempotency_key="b-1")
    assert len(await billing.bonuses("375333334455")) == 1
    with pytest.raises(BackofficeError, match="no such demo subscriber"):
        await billing.grant_bonus("375447770000", kind="traffic_mb", amount=1, reason="r",
                                  idempotency_key="k")
    with pytest.raises(BackofficeError, match="no such demo subscriber"):
        await billing.bonuses("375447770000")
    with pytest.raises(ValueError, match="positive integer"):
        await billing.grant_bonus(msisdn, kind="traffic_mb", amount=0, reason="r",
                                  idempotency_key="k")
    assert len(await billing.bonuses(msisdn)) == 2


# -- validation: each problem names file and line --------------------------------------------

SUBSCRIBER = """\
  - msisdn: "{msisdn}"
    balance: "1.00"
    currency: BYN
    tariff: Demo
    roaming: false
    status: active
"""

ONE = "subscribers:\n" + SUBSCRIBER.format(msisdn="375291112233")

CASES = {
    "missing field": ("""\
subscribers:
  - msisdn: "375291112233"  # <-
    balance: "1.00"
    currency: BYN
    tariff: Demo
    roaming: false
""", "subscribers[0]: missing required field 'status'"),
    "roaming not a bool": ("""\
subscribers:
  - msisdn: "375291112233"
    balance: "1.00"
    currency: BYN
    tariff: Demo
    roaming: "yes"  # <-
    status: active
""", "subscribers[0].roaming: must be true or false"),
    "unquoted msisdn": ("""\
subscribers:
  - msisdn: 375291112233  # <-
    balance: "1.00"
    currency: BYN
    tariff: Demo
    roaming: false
    status: active
""", "subscribers[0].msisdn: must be a quoted string of 7-15 digits"),
    "msisdn with a plus": ("""\
subscribers:
  - msisdn: "+375291112233"  # <-
    balance: "1.00"
    currency: BYN
    tariff: Demo
    roaming: false
    status: active
""", "subscribers[0].msisdn: must be a quoted string"),
    "balance with a comma": ("""\
subscribers:
  - msisdn: "375291112233"
    balance: "12,34"  # <-
    currency: BYN
    tariff: Demo
    roaming: false
    status: active
""", "subscribers[0].balance: must be a decimal amount"),
    "balance a bool": ("""\
subscribers:
  - msisdn: "375291112233"
    balance: yes  # <-
    currency: BYN
    tariff: Demo
    roaming: false
    status: active
""", "subscribers[0].balance: must be a decimal amount"),
    "lower-case currency": ("""\
subscribers:
  - msisdn: "375291112233"
    balance: "1.00"
    currency: byn  # <-
    tariff: Demo
    roaming: false
    status: active
""", "subscribers[0].currency: must be an ISO 4217 code"),
    "currency in words": ("""\
subscribers:
  - msisdn: "375291112233"
    balance: "1.00"
    currency: рубли  # <-
    tariff: Demo
    roaming: false
    status: active
""", "subscribers[0].currency: must be an ISO 4217 code"),
    "status a list": ("""\
subscribers:
  - msisdn: "375291112233"
    balance: "1.00"
    currency: BYN
    tariff: Demo
    roaming: false
    status: [active]  # <-
""", "subscribers[0].status: expected a single value"),
    "empty tariff": ("""\
subscribers:
  - msisdn: "375291112233"
    balance: "1.00"
    currency: BYN
    tariff: ""  # <-
    roaming: false
    status: active
""", "subscribers[0].tariff: must be a non-empty string, or null"),
    "duplicate msisdn": (ONE + """\
  - msisdn: "375291112233"  # <-
    balance: "2.00"
    currency: BYN
    tariff: Demo
    roaming: true
    status: active
""", "subscribers[1].msisdn: duplicate msisdn, already on line 2"),
    "unknown field": ("""\
subscribers:
  - msisdn: "375291112233"
    balance: "1.00"
    currency: BYN
    tariff: Demo
    roaming: false
    status: active
    balanse: "2.00"  # <-
""", "subscribers[0].balanse: unknown field"),
    "duplicate key": ("""\
subscribers:
  - msisdn: "375291112233"
    balance: "1.00"
    currency: BYN
    tariff: Demo
    roaming: false
    status: active
    roaming: true  # <-
""", "subscribers[0].roaming: duplicate key 'roaming'"),
    "bonus amount": (ONE.replace("    status: active\n", """\
    status: active
    bonuses:
      - kind: traffic_mb
        amount: -100  # <-
        reason: demo
        idempotency_key: k
        used: false
"""), "subscribers[0].bonuses[0].amount: must be a positive integer"),
    "bonus used": (ONE.replace("    status: active\n", """\
    status: active
    bonuses:
      - kind: traffic_mb
        amount: 100
        reason: demo
        idempotency_key: k
        used: "no"  # <-
"""), "subscribers[0].bonuses[0].used: must be true or false"),
    "bonus date": (ONE.replace("    status: active\n", """\
    status: active
    bonuses:
      - kind: traffic_mb
        amount: 100
        reason: demo
        idempotency_key: k
        used: false
        granted_at: last tuesday  # <-
"""), "subscribers[0].bonuses[0].granted_at: must be a date-time"),
    "duplicate bonus key": (ONE.replace(
        "    status: active\n", """\
    status: active
    bonuses:
      - {kind: traffic_mb, amount: 100, reason: demo, idempotency_key: k, used: false}
      - {kind: traffic_mb, amount: 100, reason: demo, idempotency_key: k, used: true}  # <-
"""), "subscribers[0].bonuses[1].idempotency_key: duplicate idempotency_key"),
    "no subscribers": ("""\
subscribers: []  # <-
""", "subscribers: expected a non-empty list of subscribers"),
    "not a mapping at the top": ("""\
- msisdn: "375291112233"  # <-
""", "(document): expected a mapping with subscribers"),
    "a subscriber that is not a mapping": ("""\
subscribers:
  - "375291112233"  # <-
""", "subscribers[0]: expected a mapping"),
    "unknown top-level key": ("""\
subscriber:  # <-
""" + SUBSCRIBER.format(msisdn="375291112233"), "subscriber: unknown field"),
    "syntax error": ("""\
subscribers:
  - msisdn: "375291112233"
    balance: "1.00"
    currency: BYN: RUB  # <-
""", "YAML syntax error: mapping values are not allowed here"),
    "unterminated quote": ("""\
subscribers:
  - msisdn: "375291112233"
    balance: "1.00
    currency: BYN
""", ("YAML syntax error: found unexpected end of stream (while scanning a quoted scalar, "
      "which starts on line 3)")),
}


@pytest.mark.parametrize(("text", "expected"), CASES.values(), ids=CASES.keys())
def test_a_problem_names_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(DemoDataError) as caught:
        DemoBilling.load(path)
    line = _line_of(text) if "# <-" in text else len(text.splitlines()) + 1  # end of stream
    where = f"{path}:{line}: "
    matching = [problem for problem in caught.value.problems if problem.startswith(where)]
    assert matching, f"no problem at {where}: {caught.value.problems}"
    assert any(expected in problem for problem in matching), caught.value.problems
    assert isinstance(caught.value, ValueError)


def test_an_empty_or_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DemoDataError, match=r"subscribers\.yml:1: .*the file is empty"):
        DemoBilling.load(_write(tmp_path, "# nothing here\n"))
    missing = tmp_path / "nope.yml"
    with pytest.raises(DemoDataError, match=r"nope\.yml:1: cannot read the file"):
        DemoBilling.load(missing)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    text = """\
subscribers:
  - msisdn: "375291112233"
    balance: "1.00"
    currency: EURO
    tariff: Demo
    roaming: false
    status: active
  - msisdn: "375291112233"
    balance: "x"
    currency: BYN
    tariff: Demo
    roaming: 1
    status: active
"""
    path = _write(tmp_path, text)
    with pytest.raises(DemoDataError) as caught:
        DemoBilling.load(path)
    problems = caught.value.problems
    assert [problem.split(": ", 1)[0] for problem in problems] == [
        f"{path}:4", f"{path}:9", f"{path}:12", f"{path}:8"]
    assert "currency" in problems[0] and "balance" in problems[1]
    assert "roaming" in problems[2] and "duplicate msisdn, already on line 2" in problems[3]
    assert str(caught.value) == "\n".join(problems)


def test_a_path_below_the_working_directory_is_shown_relative(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _write(tmp_path, "subscribers: {}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DemoDataError) as caught:
        DemoBilling.load(path)
    assert caught.value.problems[0].startswith("subscribers.yml:1: subscribers: ")
