"""docker-compose.yml and deploy/nginx.conf, checked by reading (no Docker engine here): the
names they use resolve, migrations run once before the replicas, and nginx sends traffic to
every replica and nowhere else."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from bot.config import PROJECT_ROOT, Settings

COMPOSE = PROJECT_ROOT / "docker-compose.yml"
NGINX_CONF = PROJECT_ROOT / "deploy" / "nginx.conf"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))  # resolves anchors and `<<`
    assert isinstance(data, dict) and isinstance(data.get("services"), dict)
    return data


def replicas(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the app server (`abonent run`, the image's default command)."""
    return {name: service for name, service in compose["services"].items()
            if service.get("build", {}).get("dockerfile") == "Dockerfile"
            and "command" not in service}


def test_every_name_the_compose_file_uses_resolves(compose: dict[str, Any]) -> None:
    services = compose["services"]
    for name, service in services.items():
        for dependency in service.get("depends_on", {}):
            assert dependency in services, f"{name} depends on an unknown service {dependency}"
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./"):
                assert (PROJECT_ROOT / source).is_file(), f"{name} mounts a missing {source}"
            else:
                assert source in compose.get("volumes", {}), f"{name}: unknown volume {source}"
        build = service.get("build")
        if build:
            assert (PROJECT_ROOT / build["context"] / build["dockerfile"]).is_file()


def test_migrations_run_once_before_the_replicas_which_do_not_migrate(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    [migrate] = [n for n, s in services.items() if s.get("command") == ["abonent", "db", "upgrade"]]
    apps = replicas(compose)
    assert len(apps) >= 2, f"two app replicas at least: {sorted(apps)}"
    # the variable must be the one Settings reads
    alias = Settings.model_fields["auto_migrate"].validation_alias
    assert "ABONENT_AUTO_MIGRATE" in getattr(alias, "choices", [alias])
    for name, app in apps.items():
        assert app["depends_on"][migrate] == {"condition": "service_completed_successfully"}
        environment = {"ABONENT_AUTO_MIGRATE": app["environment"]["ABONENT_AUTO_MIGRATE"]}
        settings = Settings(_env_file=None, **environment)
        assert settings.auto_migrate is False, name
        assert app["environment"]["DATABASE_URL"].startswith("postgresql"), name
    assert services[migrate]["environment"] == next(iter(apps.values()))["environment"]


def test_nginx_fronts_every_replica_and_is_the_only_published_port(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    config = NGINX_CONF.read_text(encoding="utf-8")
    upstream = set(re.findall(r"^\s*server\s+([\w.-]+):8000\b", config, re.MULTILINE))
    apps = replicas(compose)
    assert upstream == set(apps), f"nginx upstream {sorted(upstream)}, replicas {sorted(apps)}"
    published = [n for n, s in services.items() if s.get("ports")]
    assert published == ["nginx"], published
    # the replicas believe X-Forwarded-For from nginx's address, and from nothing else
    address = services["nginx"]["networks"]["default"]["ipv4_address"]
    for name, app in apps.items():
        assert app["environment"]["ABONENT_TRUSTED_PROXIES"] == address, name
    assert "proxy_buffering off;" in config  # long polls and server-sent events
    [read_timeout] = re.findall(r"proxy_read_timeout\s+(\d+)s;", config)
    assert int(read_timeout) > 60, "longer than the longest web chat wait (60 s)"
