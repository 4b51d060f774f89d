"""Fixtures of the e-mail tests: one real Dovecot and one SMTP sink for the whole session (each
test gets a fresh mailbox and a reset sink), and self-signed certificates for the TLS tests."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.mail import DovecotServer, Mailbox, SmtpSink


@pytest.fixture(scope="session")
def imap_server() -> Iterator[DovecotServer]:
    with DovecotServer() as server:
        yield server


@pytest.fixture
def mailbox(imap_server: DovecotServer) -> Mailbox:
    """A fresh account of its own on the shared Dovecot."""
    return imap_server.new_mailbox()


@pytest.fixture(scope="session")
def smtp_server() -> Iterator[SmtpSink]:
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def smtp(smtp_server: SmtpSink) -> SmtpSink:
    """The shared sink, reset for this test (no mail, no failures, no login demanded)."""
    smtp_server.reset()
    return smtp_server


@dataclass(frozen=True)
class TlsFiles:
    """A self-signed certificate for 127.0.0.1 and its key; trust it in a test with
    ``monkeypatch.setenv("SSL_CERT_FILE", str(tls.cert))`` (Python's default context reads it)."""

    cert: Path
    key: Path
    other_cert: Path  # another self-signed certificate: trusting only it must fail


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    folder = tmp_path_factory.mktemp("tls")

    def make(name: str) -> tuple[Path, Path]:
        cert, key = folder / f"{name}.pem", folder / f"{name}.key"
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
            check=True, capture_output=True, timeout=30)
        return cert, key

    cert, key = make("server")
    other, _ = make("other")
    return TlsFiles(cert, key, other)
