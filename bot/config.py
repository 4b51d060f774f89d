"""Settings: environment variables (and a ``.env`` file), typed and validated once.

Build them through :func:`get_settings` in the app; tests construct ``Settings(...)`` directly.
"""

from __future__ import annotations

from datetime import timedelta
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path

from pydantic import AliasChoices, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.phones import is_region

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./abonent.db"
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_PLACEHOLDER_PASSWORDS = {"admin", "password", "changeme", "change-me", "secret"}
DEFAULT_VERIFICATION_TTL = "webchat=12h,telegram=90d,vk=90d,email=90d,default=90d"
_TTL_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True,
        # a rejected value is not echoed: it may be a URL with a password or a token in it
        hide_input_in_errors=True,
    )

    environment: str = Field("development", validation_alias=_env("ABONENT_ENV"))
    host: str = Field("127.0.0.1", validation_alias=_env("ABONENT_HOST"))
    port: int = Field(8000, ge=1, le=65535, validation_alias=_env("ABONENT_PORT"))
    # app processes `abonent run` starts on host:port (more than one needs PostgreSQL)
    workers: int = Field(1, ge=1, le=64, validation_alias=_env("ABONENT_WORKERS"))
    log_level: str = Field("INFO", validation_alias=_env("ABONENT_LOG_LEVEL"))
    # may hold a password: read it with .get_secret_value(), never log it
    database_url: SecretStr = Field(
        SecretStr(DEFAULT_DATABASE_URL), validation_alias=_env("DATABASE_URL")
    )
    auto_migrate: bool = Field(True, validation_alias=_env("ABONENT_AUTO_MIGRATE"))
    # rate limits shared by replicas live here when set (else in the database); may hold a
    # password, like database_url
    redis_url: SecretStr | None = Field(None, validation_alias=_env("REDIS_URL"))

    # NLU: an external Rasa server when RASA_URL is set, otherwise `abonent run` starts one.
    rasa_url: str | None = Field(None, validation_alias=_env("RASA_URL"))
    rasa_token: SecretStr | None = Field(None, validation_alias=_env("RASA_TOKEN"))
    rasa_port: int = Field(5005, ge=1, le=65535, validation_alias=_env("RASA_PORT"))
    rasa_venv: Path = Field(PROJECT_ROOT / ".venv-rasa", validation_alias=_env("RASA_VENV"))
    models_dir: Path = Field(PROJECT_ROOT / "models", validation_alias=_env("ABONENT_MODELS_DIR"))
    nlu_timeout: float = Field(5.0, gt=0, validation_alias=_env("NLU_TIMEOUT"))
    nlu_retries: int = Field(2, ge=0, le=10, validation_alias=_env("NLU_RETRIES"))
    nlu_cache_size: int = Field(10_000, ge=0, validation_alias=_env("NLU_CACHE_SIZE"))

    # Telegram (channels/telegram): polling by default, webhook when TELEGRAM_WEBHOOK_URL is set.
    telegram_bot_token: SecretStr | None = Field(None, validation_alias=_env("TELEGRAM_BOT_TOKEN"))
    telegram_webhook_url: str | None = Field(None, validation_alias=_env("TELEGRAM_WEBHOOK_URL"))
    telegram_webhook_secret: SecretStr | None = Field(
        None, validation_alias=_env("TELEGRAM_WEBHOOK_SECRET")
    )
    telegram_api_base: str | None = Field(None, validation_alias=_env("TELEGRAM_API_BASE"))

    # VK (channels/vk): on when VK_GROUP_TOKEN is set; Bots Long Poll unless Callback is configured.
    vk_group_token: SecretStr | None = Field(None, validation_alias=_env("VK_GROUP_TOKEN"))
    vk_group_id: str | None = Field(None, validation_alias=_env("VK_GROUP_ID"))
    vk_api_version: str = Field("5.199", validation_alias=_env("VK_API_VERSION"))
    vk_api_base: str = Field("https://api.vk.ru", validation_alias=_env("VK_API_BASE"))
    vk_callback_confirmation: SecretStr | None = Field(
        None, validation_alias=_env("VK_CALLBACK_CONFIRMATION")
    )
    vk_callback_secret: SecretStr | None = Field(None, validation_alias=_env("VK_CALLBACK_SECRET"))

    # E-mail (channels/email): on when EMAIL_IMAP_HOST is set; IMAP in, SMTP out.
    email_imap_host: str | None = Field(None, validation_alias=_env("EMAIL_IMAP_HOST"))
    email_imap_port: str | None = Field(None, validation_alias=_env("EMAIL_IMAP_PORT"))
    email_imap_user: str | None = Field(None, validation_alias=_env("EMAIL_IMAP_USER"))
    email_imap_password: SecretStr | None = Field(
        None, validation_alias=_env("EMAIL_IMAP_PASSWORD")
    )
    email_imap_security: str | None = Field(None, validation_alias=_env("EMAIL_IMAP_SECURITY"))
    email_imap_folder: str | None = Field(None, validation_alias=_env("EMAIL_IMAP_FOLDER"))
    email_smtp_host: str | None = Field(None, validation_alias=_env("EMAIL_SMTP_HOST"))
    email_smtp_port: str | None = Field(None, validation_alias=_env("EMAIL_SMTP_PORT"))
    email_smtp_user: str | None = Field(None, validation_alias=_env("EMAIL_SMTP_USER"))
    email_smtp_password: SecretStr | None = Field(
        None, validation_alias=_env("EMAIL_SMTP_PASSWORD")
    )
    email_smtp_security: str | None = Field(None, validation_alias=_env("EMAIL_SMTP_SECURITY"))
    email_from: str | None = Field(None, validation_alias=_env("EMAIL_FROM"))
    # automatic replies to one sender per hour; more are stored for agents, not answered
    email_auto_replies_per_hour: int = Field(
        10, ge=1, validation_alias=_env("EMAIL_AUTO_REPLIES_PER_HOUR")
    )

    # Verified identity (#12): the operator's billing and SMS gateway; without them, the
    # embedded demo billing (backoffice/data/demo_subscribers.yml) and a development SMS
    # gateway that writes codes to the log (refused when ABONENT_ENV=production).
    billing_url: str | None = Field(None, validation_alias=_env("BILLING_URL"))
    billing_token: SecretStr | None = Field(None, validation_alias=_env("BILLING_TOKEN"))
    billing_timeout: float = Field(3.0, gt=0, validation_alias=_env("BILLING_TIMEOUT"))
    sms_gateway_url: str | None = Field(None, validation_alias=_env("SMS_GATEWAY_URL"))
    sms_gateway_token: SecretStr | None = Field(None, validation_alias=_env("SMS_GATEWAY_TOKEN"))
    # the region a number without a country code belongs to ("291234567" -> +375 29 123-45-67)
    phone_default_region: str = Field("BY", validation_alias=_env("PHONE_DEFAULT_REGION"))
    # how long a verification lasts per channel: "webchat=12h,telegram=90d,vk=90d,email=90d"
    # (a channel not named gets the default below; units s, m, h, d)
    verification_ttl: str = Field(DEFAULT_VERIFICATION_TTL, validation_alias=_env("VERIFICATION_TTL"))
    # a server-side secret mixed into the hash of every one-time code, so a copy of the database
    # alone cannot be used to work a live code out; set it in production (any long random text)
    verification_code_key: SecretStr | None = Field(
        None, validation_alias=_env("VERIFICATION_CODE_KEY")
    )

    kb_dir: Path | None = Field(None, validation_alias=_env("ABONENT_KB_DIR"))

    webchat_max_text: int = Field(4000, ge=1, validation_alias=_env("WEBCHAT_MAX_TEXT"))
    # Abuse limits of the anonymous web chat: messages per minute (0 = off), open handoffs.
    webchat_rate_per_ip: int = Field(60, ge=0, validation_alias=_env("WEBCHAT_RATE_PER_IP"))
    webchat_rate_per_user: int = Field(20, ge=0, validation_alias=_env("WEBCHAT_RATE_PER_USER"))
    webchat_max_open_handoffs_per_ip: int = Field(
        3, ge=0, validation_alias=_env("WEBCHAT_MAX_OPEN_HANDOFFS_PER_IP")
    )  # 0 = no cap
    # X-Forwarded-For is believed only from these addresses/networks (comma-separated).
    trusted_proxies: str = Field("", validation_alias=_env("ABONENT_TRUSTED_PROXIES"))
    # Request bodies larger than this are refused with 413 before they are read.
    max_body_bytes: int = Field(
        64 * 1024, ge=1024, validation_alias=_env("ABONENT_MAX_BODY_BYTES")
    )
    # The desk cookie is Secure unless the operator says the app is served over plain HTTP.
    plain_http: bool = Field(False, validation_alias=_env("ABONENT_PLAIN_HTTP"))
    # A message whose processing failed this many times is marked failed and handed to a person.
    processing_max_attempts: int = Field(
        3, ge=1, le=20, validation_alias=_env("PROCESSING_MAX_ATTEMPTS")
    )
    webchat_poll_seconds: float = Field(10.0, ge=0, le=60, validation_alias=_env("WEBCHAT_POLL"))
    outbox_poll_seconds: float = Field(1.0, gt=0, validation_alias=_env("OUTBOX_POLL"))
    outbox_max_attempts: int = Field(8, ge=1, validation_alias=_env("OUTBOX_MAX_ATTEMPTS"))

    # Human handoff and the agent desk (handoff/).
    admin_password: SecretStr | None = Field(
        None, validation_alias=_env("ABONENT_ADMIN_PASSWORD")
    )  # creates (or resets) the supervisor "admin" at start-up
    desk_session_hours: float = Field(12.0, gt=0, validation_alias=_env("DESK_SESSION_HOURS"))
    desk_login_max_failures: int = Field(
        5, ge=1, validation_alias=_env("DESK_LOGIN_MAX_FAILURES")
    )  # failed logins per (username, client address) (x4 per client address) within the window
    desk_login_window_seconds: float = Field(
        900.0, gt=0, validation_alias=_env("DESK_LOGIN_WINDOW")
    )
    desk_login_max_concurrent: int = Field(
        4, ge=1, le=64, validation_alias=_env("DESK_LOGIN_MAX_CONCURRENT")
    )  # password verifications at once (each argon2 check costs ~64 MB)
    desk_timezone: str = Field("Europe/Minsk", validation_alias=_env("DESK_TIMEZONE"))
    handoff_target_seconds: int = Field(180, ge=1, validation_alias=_env("HANDOFF_TARGET_SECONDS"))
    handoff_agent_concurrency: int = Field(
        2, ge=1, le=20, validation_alias=_env("HANDOFF_AGENT_CONCURRENCY")
    )  # conversations one agent handles at once (wait estimates)
    handoff_default_handle_minutes: float = Field(
        6.0, gt=0, validation_alias=_env("HANDOFF_DEFAULT_HANDLE_MINUTES")
    )  # used for wait estimates until there is history
    silence_alert_seconds: int = Field(
        120, ge=1, validation_alias=_env("SILENCE_ALERT_SECONDS")
    )  # a subscriber with an agent waiting this long for an answer raises an alert
    monitor_bot_idle_minutes: float = Field(
        30.0, gt=0, validation_alias=_env("MONITOR_BOT_IDLE_MINUTES")
    )  # a conversation the bot holds is on the live monitor while it had a message this recently
    routing_fallback_seconds: int = Field(
        120, ge=0, validation_alias=_env("ROUTING_FALLBACK_SECONDS")
    )  # a handoff nobody with its skill claimed in this time is offered to every agent
    goodwill_wait_seconds: int = Field(
        180, ge=1, validation_alias=_env("GOODWILL_WAIT_SECONDS")
    )  # a verified subscriber who waited longer for a person gets the goodwill bonus (policy:
    # handoff/data/goodwill.yml)
    workforce_service_level: float = Field(
        0.9, gt=0, lt=1, validation_alias=_env("WORKFORCE_SERVICE_LEVEL")
    )  # staffing target: this share answered within HANDOFF_TARGET_SECONDS
    workforce_shrinkage: float = Field(
        0.3, ge=0, lt=1, validation_alias=_env("WORKFORCE_SHRINKAGE")
    )  # share of paid time agents are not available (breaks, training, absence)
    workforce_max_occupancy: float = Field(
        0.85, gt=0, le=1, validation_alias=_env("WORKFORCE_MAX_OCCUPANCY")
    )  # the busiest an agent may be planned to be

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in _LOG_LEVELS:
            raise ValueError(f"ABONENT_LOG_LEVEL must be one of {', '.join(_LOG_LEVELS)}")
        return level

    @field_validator("trusted_proxies")
    @classmethod
    def _valid_networks(cls, value: str) -> str:
        for part in value.split(","):
            if part.strip():
                try:
                    ip_network(part.strip(), strict=False)
                except ValueError as exc:
                    raise ValueError(
                        f"ABONENT_TRUSTED_PROXIES: {part.strip()!r} is not an address or network"
                    ) from exc
        return value

    @field_validator("phone_default_region")
    @classmethod
    def _known_region(cls, value: str) -> str:
        region = value.strip().upper()
        if not is_region(region):
            raise ValueError(
                f"PHONE_DEFAULT_REGION: {value!r} is not a region phonenumbers knows; use a "
                "two-letter country code such as BY, RU, PL"
            )
        return region

    @field_validator("verification_ttl")
    @classmethod
    def _valid_ttl(cls, value: str) -> str:
        parse_verification_ttl(value)
        return value

    @field_validator("billing_url", "sms_gateway_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not value.strip().startswith(("http://", "https://")):
            raise ValueError("BILLING_URL and SMS_GATEWAY_URL must start with http:// or https://")
        return value.strip()

    @field_validator("rasa_url")
    @classmethod
    def _rasa_urls(cls, value: str | None) -> str | None:
        """One Rasa server or several, comma-separated (the client spreads requests over
        them); each is checked and the bad one named."""
        # imported here: the one parser of the list lives with the pool that uses it
        from nlu.pool import parse_server_urls

        if value is None or not value.replace(",", "").strip():
            return None
        try:
            return ",".join(parse_server_urls(value))
        except ValueError as exc:
            raise ValueError(f"RASA_URL: {exc}") from None

    @property
    def verification_ttls(self) -> dict[str, timedelta]:
        """How long a verification lasts, per channel; key "default" for the others."""
        return parse_verification_ttl(self.verification_ttl)

    @property
    def is_production(self) -> bool:
        return self.environment.lower() == "production"

    @property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return tuple(
            ip_network(part.strip(), strict=False)
            for part in self.trusted_proxies.split(",") if part.strip()
        )

    @model_validator(mode="after")
    def _strong_admin_password_in_production(self) -> Settings:
        password = self.admin_password.get_secret_value() if self.admin_password else None
        if self.is_production and password is not None and (
            len(password) < 12 or password.lower() in _PLACEHOLDER_PASSWORDS
        ):
            raise ValueError(
                "ABONENT_ADMIN_PASSWORD is too weak for production: use 12+ characters"
            )
        return self


def parse_verification_ttl(value: str) -> dict[str, timedelta]:
    """``"webchat=12h,telegram=90d"`` over the defaults; ValueError names the bad part."""
    ttls: dict[str, timedelta] = {}
    for text in (DEFAULT_VERIFICATION_TTL, value):
        for part in text.split(","):
            if not part.strip():
                continue
            channel, _, duration = part.partition("=")
            channel, duration = channel.strip().lower(), duration.strip().lower()
            unit = _TTL_UNITS.get(duration[-1:])
            if not channel or unit is None or not duration[:-1].isdigit() or int(duration[:-1]) < 1:
                raise ValueError(
                    f"VERIFICATION_TTL: {part.strip()!r} is not channel=duration "
                    "(e.g. webchat=12h, telegram=90d; units s, m, h, d)"
                )
            ttls[channel] = timedelta(seconds=int(duration[:-1]) * unit)
    return ttls


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
