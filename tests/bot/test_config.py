"""Settings keep secrets secret and refuse values that would do nothing."""

from __future__ import annotations

import logging

import pytest
from pydantic import ValidationError

from bot.config import Settings


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


def test_the_database_password_never_shows(caplog: pytest.LogCaptureFixture) -> None:
    configured = settings(database_url="postgresql://abonent:hunter2-secret@db.example/abonent")
    logging.getLogger("test").info("settings: %s %r", configured, configured)
    shown = str(configured) + repr(configured) + configured.model_dump_json() + caplog.text
    assert "hunter2-secret" not in shown
    assert configured.database_url.get_secret_value().endswith("@db.example/abonent")


@pytest.mark.parametrize("level", ["debug", "INFO", " warning "])
def test_log_levels_are_read_in_any_case(level: str) -> None:
    assert settings(log_level=level).log_level == level.strip().upper()


def test_an_unknown_log_level_is_refused_with_the_variable_named() -> None:
    with pytest.raises(ValidationError, match="ABONENT_LOG_LEVEL"):
        settings(log_level="LOUD")


def test_trusted_proxies_must_be_addresses() -> None:
    assert [str(n) for n in settings(trusted_proxies="10.0.0.1, 192.168.0.0/16")
            .trusted_proxy_networks] == ["10.0.0.1/32", "192.168.0.0/16"]
    with pytest.raises(ValidationError, match="ABONENT_TRUSTED_PROXIES"):
        settings(trusted_proxies="proxy.example")
