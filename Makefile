# Cylch: two commands do everything on a fresh machine (Python 3.11+ needed):
#   make demo   set up, build the synthetic demo on SQLite, serve on http://127.0.0.1:8000
#   make test   set up, run the whole suite on SQLite (and PostgreSQL if CYLCH_TEST_POSTGRES is set)
#   make bench  measured benchmarks (not part of the tests), written to var/bench/
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000

.PHONY: demo test bench lint format messages clean-demo

$(VENV)/.runtime: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.dev: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(VENV)/.runtime $@

demo: $(VENV)/.runtime
	@mkdir -p var
	CYLCH_DEMO=1 $(BIN)/cylch demo --port $(PORT)

test: $(VENV)/.dev
	@scripts/test.sh

$(VENV)/.bench: pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $(VENV)/.runtime $@

# Measured figures (minutes, both cores): linkage on FEBRL4 and the hard population at 100k and 1M;
# rules (batch run and incremental throughput) on a 50k-person demo, SQLite and PostgreSQL.
bench: $(VENV)/.bench
	CYLCH_TESTING=1 $(BIN)/cylch bench linkage --out var/bench/linkage.json
	CYLCH_TESTING=1 $(BIN)/cylch bench rules --out var/bench/rules.json
	CYLCH_TESTING=1 $(BIN)/cylch bench chronology --out var/bench/chronology.json
	CYLCH_TESTING=1 $(BIN)/cylch bench insight --out var/bench/insight.json

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Regenerate the message catalogues after changing user-facing strings (needs GNU gettext).
messages: $(VENV)/.dev
	cd src/cylch && CYLCH_TESTING=1 ../../$(BIN)/django-admin makemessages -l cy --no-obsolete --settings=cylch.settings --pythonpath=..
	cd src/cylch && CYLCH_TESTING=1 ../../$(BIN)/django-admin compilemessages -l cy --settings=cylch.settings --pythonpath=..

clean-demo:
	rm -f var/cylch.sqlite3 var/cylch.sqlite3-wal var/cylch.sqlite3-shm
