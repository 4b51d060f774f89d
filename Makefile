# Abonent: `make run` sets everything up and starts the bot; `make test` sets up and tests.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
RASA_VENV := .venv-rasa
BIN := $(VENV)/bin
ABONENT := $(BIN)/abonent
# The evaluation sets in nlu/eval/ (README.md there); EVAL_FILE=path.tsv adds one more set.
EVAL_SETS := nlu/eval/public_heldout.tsv nlu/eval/real_world.tsv
SENTIMENT_SET := nlu/eval/sentiment.tsv
EVAL_FILE ?=

.PHONY: help setup venv rasa-venv model browser mailserver nginx run test test-fast lint eval bench stress clean

help:
	@echo "make run    - set up (environments, database, NLU model) and start the bot on http://127.0.0.1:8000"
	@echo "make test   - set up and run the whole test suite (TEST_DATABASE_URL adds PostgreSQL)"
	@echo "make eval   - NLU evaluation: public + real-world sets, sentiment, Rasa cross-validation"
	@echo "make bench  - benchmarks: Abonent vs Rasa's own full stack (table in bench-results/), NLU client"
	@echo "make stress - long fault runs: kill -9 under load (SQLite, PostgreSQL), API fuzzing"
	@echo "make lint   - ruff and mypy (strict)"

venv: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Abonent needs Python >= 3.11 for the app (set PYTHON=...)")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $@

rasa-venv: $(RASA_VENV)/.installed
$(RASA_VENV)/.installed: nlu/requirements-rasa.txt
	@py310=$$(scripts/find-python310.sh) || exit 1; \
	  test -x $(RASA_VENV)/bin/python || "$$py310" -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/python -m pip install -q --upgrade "pip<24.1"
	$(RASA_VENV)/bin/python -m pip install -q -r nlu/requirements-rasa.txt
	touch $@

setup: venv rasa-venv model

# Debian's Chromium for the browser tests (Playwright drives it; browser downloads are not used).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Installing Debian's chromium for the browser tests..."; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; \
	  else \
	    echo "The browser tests need Chromium: sudo apt-get install chromium"; exit 1; \
	  fi; }

# Trains only when config, data or the country list changed (the model is named by their hash).
model: venv rasa-venv
	$(ABONENT) nlu train

run: setup
	$(ABONENT) db upgrade
	$(ABONENT) run

# Debian's Dovecot: the e-mail tests run a real IMAP server on loopback (see tests/support/mail.py).
mailserver:
	@scripts/install-mailserver.sh

# Debian's nginx: the two-replica test puts its own nginx in front of two app processes
# (see tests/support/nginx.py).
nginx:
	@scripts/install-nginx.sh

test: setup browser mailserver nginx
	$(BIN)/python -m pytest -q -ra -n 2 --dist loadgroup

test-fast: venv
	$(BIN)/python -m pytest -q -ra -n 2 --dist loadgroup -m "not rasa and not browser"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/mypy

# Intents on every set with one Rasa start (a missing set is named and skipped), then sentiment,
# then cross-validation on the training data. Never train on nlu/eval/.
eval: setup
	@echo "== Intents (nlu eval: one Rasa start for every set) =="
	@files=""; for f in $(EVAL_SETS) $(EVAL_FILE); do \
	  if [ -f "$$f" ]; then files="$$files $$f"; \
	  else echo "make eval: $$f does not exist: skipped"; fi; \
	done; \
	if [ -n "$$files" ]; then $(ABONENT) nlu eval $$files; \
	else echo "make eval: no intent set to evaluate"; fi
	@echo; echo "== Sentiment: $(SENTIMENT_SET) =="
	@if [ ! -f scripts/eval_sentiment.py ]; then \
	  echo "make eval: scripts/eval_sentiment.py does not exist yet: sentiment skipped"; \
	elif [ ! -f "$(SENTIMENT_SET)" ]; then \
	  echo "make eval: $(SENTIMENT_SET) does not exist: sentiment skipped"; \
	else \
	  $(BIN)/python scripts/eval_sentiment.py $(SENTIMENT_SET); \
	fi
	@echo; echo "== Cross-validation on the training data =="
	$(BIN)/python scripts/cross_validate.py

# Abonent vs Rasa's own full stack (bench/run.py; PostgreSQL from BENCH_POSTGRES_URL, skipped when
# unreachable): table on stdout and in bench-results/. BENCH_ARGS=--quick for a short run.
bench: setup
	$(BIN)/python bench/bench_nlu.py --fake
	$(BIN)/python bench/bench_nlu.py --local
	$(BIN)/python -m bench.run $(BENCH_ARGS)

# Long fault runs (kill -9 loops, large fuzz budgets): not part of `make test`.
stress: setup
	$(BIN)/python scripts/stress.py

clean:
	rm -rf build results models/nlu-*.tar.gz .pytest_cache
