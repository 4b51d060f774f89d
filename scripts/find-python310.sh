#!/usr/bin/env bash
# Prints the path of a Python 3.10 interpreter (Rasa 3.6 needs 3.8-3.10), or explains what to do.
set -u
candidates=()
[ -n "${PYTHON310:-}" ] && candidates+=("$PYTHON310")
command -v python3.10 >/dev/null 2>&1 && candidates+=("$(command -v python3.10)")
if command -v pyenv >/dev/null 2>&1; then
  for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.10(\.|$)' | sort -V -r); do
    candidates+=("$(pyenv root)/versions/$v/bin/python")
  done
fi
for p in "$HOME"/.pyenv/versions/3.10.*/bin/python /usr/bin/python3.10 /usr/local/bin/python3.10; do
  [ -x "$p" ] && candidates+=("$p")
done
for p in "${candidates[@]}"; do
  if [ -x "$p" ] && "$p" -c 'import sys, venv; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; then
    echo "$p"
    exit 0
  fi
done
cat >&2 <<'MSG'
No Python 3.10 found: Rasa 3.6 runs only on Python 3.8-3.10 and lives in its own .venv-rasa.
Install one of:
  pyenv install 3.10            (then run make again)
  uv python install 3.10        (then: PYTHON310=$(uv python find 3.10) make ...)
  apt-get install python3.10    (where your distribution has it)
or run Rasa elsewhere and point the app at it: RASA_URL=http://host:5005 RASA_TOKEN=... make run
(docker compose up starts Rasa in a container with the official image).
MSG
exit 1
