"""Which mode the VK settings choose, and the clear errors for incomplete or malformed ones."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from channels.vk.options import VK_DEFAULT_BASE, VkConfigError, VkOptions
from tests.support.app import base_settings

TOKEN = "vk1.a.Zq3_community-token.for-tests_0123456789abcdef"
CONFIRMATION = "a1b2c3d4"
SECRET = "CallbackSecret42"


@pytest.fixture(autouse=True)
def _no_vk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings read the environment too: a developer's VK_* must not decide these tests."""
    for name in ("VK_GROUP_TOKEN", "VK_GROUP_ID", "VK_API_VERSION", "VK_API_BASE",
                 "VK_CALLBACK_CONFIRMATION", "VK_CALLBACK_SECRET"):
        monkeypatch.delenv(name, raising=False)


def options(**overrides: object) -> VkOptions:
    values: dict[str, object] = {"vk_group_token": SecretStr(TOKEN), "vk_group_id": "229000001"}
    values.update(overrides)
    return VkOptions.from_settings(base_settings(**values))


def config_error(**overrides: object) -> str:
    with pytest.raises(VkConfigError) as caught:
        options(**overrides)
    message = str(caught.value)
    for secret in (TOKEN, CONFIRMATION, SECRET):
        assert secret not in message, "a secret reached an error message"
    return message


def test_long_poll_is_the_default() -> None:
    chosen = options()
    assert chosen.mode == "long_poll"
    assert chosen.token == TOKEN and chosen.group_id == 229000001
    assert chosen.api_version == "5.199" and chosen.api_base == VK_DEFAULT_BASE
    assert chosen.callback_confirmation is None and chosen.callback_secret is None
    assert chosen.secrets == (TOKEN,)


def test_a_confirmation_with_a_secret_is_callback_mode() -> None:
    chosen = options(vk_callback_confirmation=SecretStr(CONFIRMATION),
                     vk_callback_secret=SecretStr(SECRET))
    assert chosen.mode == "callback"
    assert chosen.callback_confirmation == CONFIRMATION and chosen.callback_secret == SECRET
    assert set(chosen.secrets) == {TOKEN, SECRET}


def test_surrounding_whitespace_is_not_part_of_a_value() -> None:
    chosen = options(vk_group_token=SecretStr(f"  {TOKEN}\n"), vk_group_id=" 229000001 ",
                     vk_api_version=" 5.199 ", vk_api_base=" https://api.vk.ru ")
    assert chosen.token == TOKEN and chosen.group_id == 229000001
    assert chosen.api_version == "5.199" and chosen.api_base == "https://api.vk.ru"


def test_secrets_stay_out_of_the_repr() -> None:
    chosen = options(vk_callback_confirmation=SecretStr(CONFIRMATION),
                     vk_callback_secret=SecretStr(SECRET))
    shown = repr(chosen)
    assert "229000001" in shown, "the repr still says which community"
    for secret in (TOKEN, CONFIRMATION, SECRET):
        assert secret not in shown


@pytest.mark.parametrize(("written", "group_id"), [
    ("229000001", 229000001),
    ("club123", 123),
    ("public123", 123),
    ("-123", 123),
])
def test_the_community_id_is_read_as_vk_writes_it(written: str, group_id: int) -> None:
    assert options(vk_group_id=written).group_id == group_id


@pytest.mark.parametrize("token", [None, SecretStr(""), SecretStr("   ")])
def test_vk_is_off_without_a_token(token: SecretStr | None) -> None:
    assert "VK_GROUP_TOKEN" in config_error(vk_group_token=token)


@pytest.mark.parametrize("token", [
    "short",  # under 20 characters
    "vk1.a.has spaces in the middle of it",
    "vk1.a.ünïcödé-is-not-a-token-character",
    "x" * 513,
])
def test_a_malformed_token_is_refused_without_being_quoted(token: str) -> None:
    message = config_error(vk_group_token=SecretStr(token))
    assert "VK_GROUP_TOKEN" in message
    assert token not in message


@pytest.mark.parametrize("group", [None, "", "   "])
def test_a_missing_community_id_is_named(group: str | None) -> None:
    assert "VK_GROUP_ID" in config_error(vk_group_id=group)


@pytest.mark.parametrize("group", ["0", "club0", "club", "abc", "12a", "vk.com/club123",
                                   "1" * 16, "12.5"])
def test_a_malformed_community_id_is_named(group: str) -> None:
    assert "VK_GROUP_ID" in config_error(vk_group_id=group)


@pytest.mark.parametrize("version", ["5.103", "5.131", "5.199", "6.0"])
def test_api_versions_from_5_103_on_are_accepted(version: str) -> None:
    assert options(vk_api_version=version).api_version == version


@pytest.mark.parametrize("version", ["5.92", "5.102", "4.999"])
def test_an_api_version_too_old_for_the_event_shape_is_refused(version: str) -> None:
    message = config_error(vk_api_version=version)
    assert "VK_API_VERSION" in message and "too old" in message


@pytest.mark.parametrize("version", ["", "5", "latest", "v5.199", "5.199.1", "5,199"])
def test_a_malformed_api_version_is_named(version: str) -> None:
    assert "VK_API_VERSION" in config_error(vk_api_version=version)


@pytest.mark.parametrize(("base", "kept"), [
    ("https://api.vk.ru/", "https://api.vk.ru"),
    ("https://vk-proxy.example.test/vk/", "https://vk-proxy.example.test/vk"),
    ("http://127.0.0.1:8081/", "http://127.0.0.1:8081"),
    ("http://localhost:8081", "http://localhost:8081"),
    ("http://[::1]:8081", "http://[::1]:8081"),
])
def test_an_api_base_is_accepted_without_its_trailing_slash(base: str, kept: str) -> None:
    assert options(vk_api_base=base).api_base == kept


@pytest.mark.parametrize("base", [
    "http://api.vk.ru",  # the token would travel in clear text
    "http://127.0.0.1.evil.test:8081",
    "http://10.0.0.5:8081",
])
def test_plain_http_is_refused_off_this_machine(base: str) -> None:
    message = config_error(vk_api_base=base)
    assert "VK_API_BASE" in message and "https" in message


@pytest.mark.parametrize("base", ["", "api.vk.ru", "ftp://api.vk.ru", "https://",
                                  "https://api.vk.ru/?v=5.199"])
def test_a_malformed_api_base_is_named(base: str) -> None:
    assert "VK_API_BASE" in config_error(vk_api_base=base)


def test_a_confirmation_without_a_secret_is_refused() -> None:
    message = config_error(vk_callback_confirmation=SecretStr(CONFIRMATION))
    assert "VK_CALLBACK_SECRET is not" in message


def test_a_secret_without_a_confirmation_is_refused() -> None:
    message = config_error(vk_callback_secret=SecretStr(SECRET))
    assert "VK_CALLBACK_CONFIRMATION is not" in message


@pytest.mark.parametrize("secret", ["with space", "dash-ed", "x" * 51, "сек рет"])
def test_a_secret_vk_would_not_accept_is_refused_without_being_quoted(secret: str) -> None:
    message = config_error(vk_callback_confirmation=SecretStr(CONFIRMATION),
                           vk_callback_secret=SecretStr(secret))
    assert "VK_CALLBACK_SECRET" in message and secret not in message


@pytest.mark.parametrize("confirmation", ["has space", "a-b", "x" * 65])
def test_a_malformed_confirmation_is_refused_without_being_quoted(confirmation: str) -> None:
    message = config_error(vk_callback_confirmation=SecretStr(confirmation),
                           vk_callback_secret=SecretStr(SECRET))
    assert "VK_CALLBACK_CONFIRMATION" in message and confirmation not in message


def test_blank_callback_settings_count_as_unset() -> None:
    chosen = options(vk_callback_confirmation=SecretStr("  "), vk_callback_secret=SecretStr(""))
    assert chosen.mode == "long_poll"
