# Cylch: two commands do everything on a fresh machine (Python 3.11+ needed):
#   make demo   set up, build the synthetic demo on SQLite, serve on http://127.0.0.1:8000
#   make test   set up, run the whole suite on SQLite (and PostgreSQL if CYLCH_TEST_POSTGRES is set)
#   make bench  measured benchmarks (not part of the tests), written to var/bench/
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000

.PHONY: demo test bench soak lint format messages clean-demo

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

# The benchmarks get their own environment: the recordlinkage baseline needs pandas 2, the app and
# its tests run on pandas 3, and installing one into the other would change what `make test` tests.
BENCH_VENV := .venv-bench
BBIN       := $(BENCH_VENV)/bin

$(BENCH_VENV)/.bench: pyproject.toml
	@test -x $(BBIN)/python || $(PYTHON) -m venv $(BENCH_VENV)
	$(BBIN)/python -m pip install --quiet --upgrade pip
	$(BBIN)/python -m pip install --quiet -e '.[dev,bench]'
	@touch $@

# Every benchmark in sequence, sized to finish within 20 minutes on 2 cores (each command's defaults
# are the larger published runs): each writes its own JSON under var/bench/, then `cylch bench results`
# gathers every figure with its floor and ratio into var/bench/results.json and prints one table.
# SQLite and PostgreSQL wherever the bench supports both; scratch databases are dropped after. See docs/bench.md.
bench: $(BENCH_VENV)/.bench
	@mkdir -p var/bench && cat /proc/loadavg > var/bench/loadavg.before
	CYLCH_TESTING=1 $(BBIN)/cylch bench linkage --sizes 100000 --out var/bench/linkage.json
	CYLCH_TESTING=1 $(BBIN)/cylch bench intake --persons 3000 --events 8000 --batch 100,1000 --out var/bench/intake.json
	CYLCH_TESTING=1 $(BBIN)/cylch bench rules --persons 5000 --events 300 --out var/bench/rules.json
	CYLCH_TESTING=1 $(BBIN)/cylch bench chronology --events 500000 --requests 30 --out var/bench/chronology.json
	CYLCH_TESTING=1 $(BBIN)/cylch bench insight --persons 5000 --out var/bench/insight.json
	CYLCH_TESTING=1 $(BBIN)/cylch bench http --persons 3000 --users 50 --out var/bench/http.json
	CYLCH_TESTING=1 $(BBIN)/cylch bench results --dir var/bench --out var/bench/results.json

# Ten minutes of the HTTP mix at 50 users against gunicorn and PostgreSQL, the workers' memory sampled
# every 5 s: fails on any error, any acknowledged write missing, a worker replaced, memory growth of
# 10% or more after the 2-minute warm-up, or an audit chain that does not verify (var/bench/soak.json);
# then the full forms of the fault injection (about 30 min: 8 kills of the web server on each database,
# 10 of the worker, PostgreSQL restarted 8 times; docs/faults.md) and of the fuzzing (300 calls per
# operation, 2,000-3,000 inputs per importer; docs/intake.md), which `make test` runs bounded.
soak: $(BENCH_VENV)/.bench
	@mkdir -p var/bench
	CYLCH_TESTING=1 $(BBIN)/cylch bench soak --persons 3000 --users 50 --seconds 600 --out var/bench/soak.json
	CYLCH_FAULT_FULL=1 CYLCH_TESTING=1 CYLCH_DEMO=1 $(BBIN)/pytest -q -p no:cacheprovider tests/test_faults.py
	CYLCH_FUZZ_FULL=1 CYLCH_TESTING=1 CYLCH_DEMO=1 $(BBIN)/pytest -q -p no:cacheprovider tests/test_api_fuzz.py tests/test_importer_fuzz.py

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
