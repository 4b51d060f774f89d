"""The identity settings: billing and SMS URLs, the default region, how long a verification
lasts, and which back office the app builds from them (demo billing and the development SMS
gateway are refused in production)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from pydantic import ValidationError

from backoffice.billing_demo import DemoBilling
from backoffice.billing_http import HttpBilling
from bot.config import Settings, parse_verification_ttl
from bot.services import build_personal_data
from bot.storage import Database
from knowledge_base import load_knowledge_base


def test_verification_ttl_defaults_and_overrides() -> None:
    ttls = parse_verification_ttl("")
    assert ttls["webchat"] == timedelta(hours=12)
    assert ttls["telegram"] == ttls["vk"] == ttls["email"] == timedelta(days=90)
    ttls = parse_verification_ttl("webchat=30m, vk=7d")
    assert ttls["webchat"] == timedelta(minutes=30) and ttls["vk"] == timedelta(days=7)
    assert ttls["telegram"] == timedelta(days=90)


@pytest.mark.parametrize("value", ["webchat", "webchat=", "webchat=12", "webchat=0h",
                                   "webchat=-1d", "=5d", "webchat=5w"])
def test_a_bad_verification_ttl_names_the_part(value: str) -> None:
    with pytest.raises(ValidationError, match="VERIFICATION_TTL"):
        Settings(verification_ttl=value)


def test_the_default_region_is_checked_and_upper_cased() -> None:
    assert Settings(phone_default_region="ru").phone_default_region == "RU"
    with pytest.raises(ValidationError, match="PHONE_DEFAULT_REGION"):
        Settings(phone_default_region="Belarus")


@pytest.mark.parametrize("name", ["billing_url", "sms_gateway_url"])
def test_back_office_urls_must_be_http(name: str) -> None:
    with pytest.raises(ValidationError, match="http"):
        Settings(**{name: "ftp://billing.example"})
    assert getattr(Settings(**{name: "  "}), name) is None


async def test_no_billing_url_is_the_demo_and_production_refuses_it(tmp_path: object) -> None:
    kb = load_knowledge_base()
    db = Database("sqlite+aiosqlite:///:memory:")
    async with httpx.AsyncClient() as http:
        personal = build_personal_data(Settings(), db, kb, http)
        assert isinstance(personal.billing, DemoBilling)
        configured = build_personal_data(
            Settings(billing_url="http://127.0.0.1:9/", sms_gateway_url="http://127.0.0.1:9/"),
            db, kb, http)
        assert isinstance(configured.billing, HttpBilling)
        with pytest.raises(ValueError, match="SMS_GATEWAY_URL"):
            build_personal_data(Settings(environment="production",
                                         billing_url="http://127.0.0.1:9/"), db, kb, http)
        with pytest.raises(ValueError, match="BILLING_URL"):
            build_personal_data(Settings(environment="production",
                                         sms_gateway_url="http://127.0.0.1:9/"), db, kb, http)
    await db.close()
