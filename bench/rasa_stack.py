"""Rasa 3.6's own full stack as the fair reference: a Rasa project generated from Abonent's NLU
config and data (nlu/config.yml + RulePolicy, nlu/domain.yml + a response per intent, the training
data as `abonent nlu train` assembles it + a rule intent -> response), trained once per distinct
input, served with the REST channel and an SQL tracker store on the benchmark's database.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy.engine.url import make_url

from bench.procs import BenchError, Supervised, log_tail
from knowledge_base.service import KnowledgeBase
from nlu.rasa_launcher import PARENT_VARIABLE
from nlu.server_state import LAUNCHER_MODULE
from nlu.training import (
    ADDONS_DIR,
    CONFIG_FILE,
    DOMAIN_FILE,
    PROJECT_ROOT,
    build_training_data,
    rasa_environment,
    rasa_executable,
    rasa_python,
)

FALLBACK_INTENT = "nlu_fallback"  # what FallbackClassifier predicts below its threshold
FALLBACK_TEXT = (
    "Извините, я не понял вопрос. Я могу подсказать баланс, ваш номер, роуминг, тариф и "
    "номера поддержки."
)
RULES_FILE = "bench_rules.yml"


def _dump(document: object) -> str:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


def response_text(kb: KnowledgeBase, intent: str) -> str:
    """The Russian knowledge-base answer of ``intent`` (so both stacks send as much text), else
    its label; braces removed, since Rasa would read them as slot templates."""
    answer = kb.answer(intent, {}, "ru")
    if answer is not None:
        text = answer.text
    else:
        try:
            text = kb.intent_label(intent, "ru")
        except KeyError:
            text = FALLBACK_TEXT
    return text.replace("{", "").replace("}", "") or FALLBACK_TEXT


def domain_document(kb: KnowledgeBase) -> dict[str, Any]:
    domain: dict[str, Any] = yaml.safe_load(DOMAIN_FILE.read_text(encoding="utf-8"))
    intents = [str(i) for i in domain["intents"]]
    responses = {f"utter_{i}": [{"text": response_text(kb, i)}] for i in intents}
    responses[f"utter_{FALLBACK_INTENT}"] = [{"text": FALLBACK_TEXT}]
    domain["responses"] = responses
    return domain


def rules_document(intents: list[str]) -> dict[str, Any]:
    rules = [
        {"rule": f"answer {i}", "steps": [{"intent": i}, {"action": f"utter_{i}"}]}
        for i in [*intents, FALLBACK_INTENT]
    ]
    return {"version": "3.1", "rules": rules}


def config_document() -> dict[str, Any]:
    config: dict[str, Any] = yaml.safe_load(CONFIG_FILE.read_text(encoding="utf-8"))
    config["policies"] = [{"name": "RulePolicy"}]
    return config


def build_project(kb: KnowledgeBase, project: Path) -> None:
    """config.yml, domain.yml and data/ (Abonent's training data + the rules) in ``project``."""
    project.mkdir(parents=True, exist_ok=True)
    domain = domain_document(kb)
    (project / "config.yml").write_text(_dump(config_document()), encoding="utf-8")
    (project / "domain.yml").write_text(_dump(domain), encoding="utf-8")
    data = build_training_data(kb.country_lookup(), project / "data")
    (data / RULES_FILE).write_text(
        _dump(rules_document([str(i) for i in domain["intents"]])), encoding="utf-8"
    )


def project_hash(project: Path) -> str:
    """What shapes the trained model: the generated project and our Rasa components."""
    digest = hashlib.sha256()
    files = [project / "config.yml", project / "domain.yml", *sorted((project / "data").rglob("*"))]
    if ADDONS_DIR.exists():
        files += sorted(ADDONS_DIR.rglob("*.py"))
    for path in files:
        if path.is_file():
            digest.update(str(path.relative_to(path.parent.parent)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def train_full_stack(
    kb: KnowledgeBase, *, build_dir: Path, venv: Path, echo: Callable[[str], None] = print
) -> Path:
    """Build the project and train it unless a model of exactly this input exists."""
    build_dir, venv = build_dir.resolve(), venv.resolve()  # rasa runs in the project directory
    project = build_dir / "project"
    build_project(kb, project)
    models = build_dir / "models"
    name = f"full-{project_hash(project)}"
    model = models / f"{name}.tar.gz"
    if model.exists():
        echo(f"Rasa full-stack model is up to date: {model}")
        return model
    models.mkdir(parents=True, exist_ok=True)
    log_file = build_dir / "train.log"
    echo(f"Training Rasa's full-stack model (NLU + rules; about 2 minutes) -> {model}")
    started = time.monotonic()
    with log_file.open("wb") as log:
        result = subprocess.run(
            [
                str(rasa_executable(venv)), "train",
                "--config", str(project / "config.yml"),
                "--domain", str(project / "domain.yml"),
                "--data", str(project / "data"),
                "--out", str(models),
                "--fixed-model-name", name,
            ],
            cwd=project, env=rasa_environment(), stdout=log, stderr=subprocess.STDOUT, check=False,
        )
    if result.returncode != 0 or not model.exists():
        raise BenchError(
            f"rasa train failed (exit {result.returncode}); see {log_file}:\n{log_tail(log_file)}"
        )
    for old in models.glob("full-*.tar.gz"):
        if old != model:
            old.unlink(missing_ok=True)
    echo(f"Trained in {time.monotonic() - started:.0f} s")
    return model


def tracker_store(database_url: str) -> dict[str, Any]:
    """Rasa's SQL tracker store on the same database as Abonent's (SQLite file or PostgreSQL)."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        if not url.database:
            raise BenchError("the SQLite database of the benchmark must be a file")
        return {"type": "SQL", "dialect": "sqlite", "db": url.database}
    store: dict[str, Any] = {
        "type": "SQL",
        "dialect": "postgresql",
        "url": url.host or "127.0.0.1",
        "port": url.port or 5432,
        "db": url.database,
        "username": url.username or "postgres",
    }
    if url.password:
        store["password"] = url.password
    return store


@dataclass(frozen=True)
class RasaStackFiles:
    credentials: Path
    endpoints: Path


def write_run_files(run_dir: Path, database_url: str) -> RasaStackFiles:
    run_dir.mkdir(parents=True, exist_ok=True)
    credentials, endpoints = run_dir / "credentials.yml", run_dir / "endpoints.yml"
    credentials.write_text(_dump({"rest": None}), encoding="utf-8")
    endpoints.write_text(_dump({"tracker_store": tracker_store(database_url)}), encoding="utf-8")
    # the file may hold the database password
    os.chmod(endpoints, 0o600)
    return RasaStackFiles(credentials, endpoints)


def full_stack_server(
    model: Path, files: RasaStackFiles, *, venv: Path, port: int, run_dir: Path,
    extra_env: Mapping[str, str] | None = None,
) -> Supervised:
    """``rasa run`` (through our launcher, so it dies with the benchmark) with the REST channel."""
    env = rasa_environment({PARENT_VARIABLE: str(os.getpid()), **(extra_env or {})})
    return Supervised(
        "rasa-full-stack",
        [
            str(rasa_python(venv)), "-m", LAUNCHER_MODULE, "run", "--enable-api",
            "-m", str(model), "-i", "127.0.0.1", "-p", str(port),
            "--credentials", str(files.credentials), "--endpoints", str(files.endpoints),
        ],
        env=env, log_file=run_dir / "rasa-full-stack.log", cwd=PROJECT_ROOT,
    )


def full_stack_ready(url: str) -> Callable[[httpx.Client], bool]:
    def probe(http: httpx.Client) -> bool:
        return http.get(f"{url}/status").status_code == 200

    return probe
