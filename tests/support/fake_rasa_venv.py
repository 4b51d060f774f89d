"""A stand-in for ``.venv-rasa``: a ``rasa`` package with Rasa's command line and ``/status``.

The real launcher (``python -m rasa_launcher``) and the real process handling run against it, so
tests of starting, stopping, reusing and killing the server take a second instead of Rasa's 40 s
start and 1.2 GB. Its ``rasa run`` parses the arguments as Rasa does (argparse, ``--auth-token``)
and answers ``GET /status?token=T`` with 200 only for that token; ``rasa train nlu`` writes the
model file. ``FAKE_RASA_DELAY`` (seconds) delays its readiness. Standard library only.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

_MAIN = '''
import argparse, http.server, json, os, sys, time
from pathlib import Path
from urllib.parse import parse_qs, urlparse


def main():
    args = sys.argv[1:]
    if args[:1] == ["train"]:
        parser = argparse.ArgumentParser()
        parser.add_argument("--out")
        parser.add_argument("--fixed-model-name")
        known, _ = parser.parse_known_args(args)
        Path(known.out).mkdir(parents=True, exist_ok=True)
        Path(known.out, known.fixed_model_name + ".tar.gz").write_bytes(b"fake model")
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("command", choices=["run"])
    parser.add_argument("--enable-api", action="store_true")
    parser.add_argument("-m", "--model")
    parser.add_argument("-i", "--interface")
    parser.add_argument("-p", "--port", type=int)
    parser.add_argument("-t", "--auth-token")
    run = parser.parse_args(args)
    time.sleep(float(os.environ.get("FAKE_RASA_DELAY", "0")))

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, code, body):
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorised(self):
            token = parse_qs(urlparse(self.path).query).get("token", [None])[0]
            return run.auth_token is not None and token == run.auth_token

        def do_GET(self):
            if urlparse(self.path).path == "/version":
                return self._answer(200, {"version": "3.6.21"})
            if not self._authorised():
                return self._answer(401, {"status": "failure", "reason": "NotAuthenticated"})
            status = {"model_file": Path(run.model).name, "model_id": "fake",
                      "num_active_training_jobs": 0}
            return self._answer(200, status)

        def do_POST(self):
            if not self._authorised():
                return self._answer(401, {"status": "failure", "reason": "NotAuthenticated"})
            length = int(self.headers.get("Content-Length") or 0)
            text = json.loads(self.rfile.read(length) or b"{}").get("text", "")
            intent = {"name": "nlu_fallback", "confidence": 0.3}
            self._answer(200, {"text": text, "intent": intent, "entities": [],
                               "intent_ranking": [intent], "text_tokens": []})

        def log_message(self, *_args):
            pass

    http.server.ThreadingHTTPServer((run.interface, run.port), Handler).serve_forever()
'''


@dataclass(frozen=True)
class FakeRasaVenv:
    venv: Path  # pass as RasaServer(venv=...) / RASA_VENV
    pythonpath: Path  # put on PYTHONPATH so `import rasa` finds the fake

    def environment(self) -> dict[str, str]:
        return {"RASA_VENV": str(self.venv), "PYTHONPATH": str(self.pythonpath)}


def make_fake_rasa_venv(root: Path) -> FakeRasaVenv:
    package = root / "site" / "rasa"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text(_MAIN)
    bin_dir = root / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "python").symlink_to(sys.executable)
    # the console script Rasa installs, for code that runs `rasa` directly
    script = bin_dir / "rasa"
    script.write_text(f"#!{sys.executable}\nfrom rasa.__main__ import main\nmain()\n")
    os.chmod(script, 0o755)
    return FakeRasaVenv(root / "venv", root / "site")
