# The interface users, CI and reviewers rely on. See README.md.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
BIN := $(VENV)/bin
COLL_LINK := .ansible/collections/ansible_collections/mssql/tls
LAB := PYTHONPATH=$(CURDIR)/tests/lab $(PY) -m winlab
LAB_STATE ?= .lab
PROFILES ?= tests/lab/profiles
INVENTORY ?= $(LAB_STATE)/inventory.yml
LATENCY_MS ?= 0
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

# The stages of `make test`, in order; .ci/run runs `make test`. `make test-all` adds the long
# stages (every molecule scenario, the exhaustive fault cases, the 500-host load run) that would push
# CI past its 20-minute budget.
TEST_STAGES := lint pytest sanity units build molecule
TEST_ALL_STAGES := $(TEST_STAGES) molecule-all pytest-long load-500
# Molecule scenarios (extensions/molecule) on the lab: `make test` runs the mixed fleet (one
# change window over eight profiles); `make test-all` every scenario. windows-runner needs a
# real Windows host (.github/workflows/windows-remediation.yml) and is never run here.
MOLECULE_SCENARIOS ?= mixed
MOLECULE_ALL_SCENARIOS := s1 s2 s3 s4 s5 s6 mixed-2012r2 fci mixed
MOLECULE = $(TOOLS_PATH) $(BIN)/molecule
# ansible-test runs on the project's Python (ansible-core 2.19 runs on 3.11).
ANSIBLE_TEST_PYTHON ?= 3.11
# Stays on the venv's tools without the "PATH altered" warnings of ansible-lint.
TOOLS_PATH := PATH=$(abspath $(BIN)):$$PATH
# Python sources ruff checks (the folders that exist).
PY_DIRS := $(wildcard plugins tests bench .ci)
SHELL_SCRIPTS := .ci/run .ci/ansible-test .ci/stage-collection tools/demo.sh
# pslint needs pwsh, which this machine has not; the agent's PowerShell is parsed by
# tests/contract (tree-sitter) instead. Everything else in sanity runs.
SANITY_SKIP := $(if $(shell command -v pwsh),,pslint)
# Tests run in parallel (pytest-xdist); every lab a test starts has its own subnet and port.
PYTEST_WORKERS ?= 2
# CI installs every tool the tests use, so a skipped test there is a check not done.
JUNIT_CHECK_FLAGS := $(if $(filter true,$(CI)),--fail-on-skip,)
PYTEST_REPORT := tests/output/pytest.xml
# The snapshot of the collection that ansible-test and ansible-galaxy work on (.ci/stage-collection).
STAGE := build/ansible_collections/mssql/tls
UNITS_REPORT := $(STAGE)/tests/output/junit/python$(ANSIBLE_TEST_PYTHON)-controller-units.xml
ANSIBLE_TEST := VENV=$(abspath $(VENV)) .ci/ansible-test

.PHONY: setup lab-up lab-down lab-stats probe test test-all pytest-long load-500 lint lint-python lint-shell lint-ansible pytest sanity units build molecule molecule-all demo bench bench-full clean

setup: $(VENV)/.installed $(COLL_LINK)

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements-dev.txt
	touch $@

$(COLL_LINK):
	mkdir -p $(dir $(COLL_LINK))
	ln -sfn ../../../.. $(COLL_LINK)

lab-up: setup
	$(LAB) up --state-dir $(LAB_STATE) --profiles $(PROFILES) --inventory $(INVENTORY) --latency-ms $(LATENCY_MS)

lab-down:
	$(LAB) down --state-dir $(LAB_STATE)

lab-stats:
	$(LAB) stats --state-dir $(LAB_STATE) $(if $(RESET),--reset,)

# Every stage runs even when an earlier one failed (and -k runs every linter); the
# summary shows each result and time.
test test-all: setup
	@status=0; summary=""; \
	for stage in $(if $(filter test-all,$@),$(TEST_ALL_STAGES),$(TEST_STAGES)); do \
	  start=$$SECONDS; echo "=== make $$stage"; \
	  if $(MAKE) -k --no-print-directory $$stage; then result=ok; else result=FAILED; status=1; fi; \
	  summary+=$$(printf '\n  %-8s %-7s %5ss' $$stage $$result $$((SECONDS - start))); \
	done; \
	echo "=== make test:$$summary"; \
	exit $$status

lint: lint-python lint-shell lint-ansible

lint-python: setup
	$(BIN)/ruff check $(PY_DIRS)

lint-shell: setup
	$(BIN)/shellcheck $(SHELL_SCRIPTS)

lint-ansible: setup
	$(TOOLS_PATH) ansible-lint

# Each scenario: destroy, create (lab up), converge (remediate.yml), idempotence, verify, destroy.
molecule: setup
	@for scenario in $(MOLECULE_SCENARIOS); do \
	  echo "=== molecule test -s $$scenario"; \
	  $(MOLECULE) test -s $$scenario || exit 1; \
	done

molecule-all: setup
	$(MAKE) --no-print-directory molecule MOLECULE_SCENARIOS="$(filter-out $(MOLECULE_SCENARIOS),$(MOLECULE_ALL_SCENARIOS))"

# pyproject's testpaths; a suite that runs no test fails (exit 5 or .ci/check_junit.py).
pytest: setup
	$(BIN)/pytest -m "not windows and not long" -n $(PYTEST_WORKERS) -o junit_family=xunit1 --junitxml=$(PYTEST_REPORT)
	$(PY) .ci/check_junit.py $(PYTEST_REPORT) $(JUNIT_CHECK_FLAGS)

# The fault cases marked long: a cut after every op k and at every journal line (docs/reliability.md).
pytest-long: setup
	$(BIN)/pytest -m "long and not windows" -n $(PYTEST_WORKERS) -o junit_family=xunit1 \
	  --junitxml=tests/output/pytest-long.xml tests/integration
	$(PY) .ci/check_junit.py tests/output/pytest-long.xml --suite tests/integration $(JUNIT_CHECK_FLAGS)

# The load test (tests/integration/test_load.py) on 500 lab hosts, forks 50, serial batches of 50;
# `make test` runs it on 100 hosts. Figures: tests/output/load-500.json and docs/reliability.md.
load-500: setup
	MSSQL_TLS_LOAD_HOSTS=500 $(BIN)/pytest -p no:xdist -s -o junit_family=xunit1 \
	  --junitxml=tests/output/load-500.xml tests/integration/test_load.py
	$(PY) .ci/check_junit.py tests/output/load-500.xml --suite tests/integration $(JUNIT_CHECK_FLAGS)

sanity: setup
	$(if $(SANITY_SKIP),@echo "sanity: skipping $(SANITY_SKIP) (pwsh not found)")
	$(ANSIBLE_TEST) sanity --python $(ANSIBLE_TEST_PYTHON) $(addprefix --skip-test ,$(SANITY_SKIP))

units: setup
	$(ANSIBLE_TEST) units --python $(ANSIBLE_TEST_PYTHON)
	$(PY) .ci/check_junit.py $(UNITS_REPORT) --suite tests/unit $(JUNIT_CHECK_FLAGS)

build: setup
	rm -f build/mssql-tls-*.tar.gz
	.ci/stage-collection >/dev/null
	$(BIN)/ansible-galaxy collection build --force --output-path build $(STAGE)
	$(PY) .ci/check_artifact.py build/mssql-tls-*.tar.gz $(STAGE)

demo: setup
	tools/demo.sh

# One endpoint, no inventory: make probe TARGET=host:port [MODE=tds|strict|tls] [OUT=file.json]
probe: setup
	@test -n "$(TARGET)" || { echo "make probe: set TARGET=host:port" >&2; exit 2; }
	PYTHONPATH=$(CURDIR)/.ansible/collections $(PY) -m ansible_collections.mssql.tls.plugins.plugin_utils.tds.cli \
	  $(TARGET) --mode $(or $(MODE),tds) $(if $(OUT),--out $(OUT))

# Side-by-side figures (docs/performance.md), each measured in one run and reported as a ratio.
# bench: under 5 minutes (92 s here): the prober against nmap, the audit of 50 lab hosts, then round trips,
# wall time and bytes against the per-task pattern (its last line: the audit's round trips per host).
# bench-full: the same with the fleet audited at 50, 200 and 500 hosts (the first run builds the
# hosts into $(BENCH_STATE), later runs reload them).
BENCH_LATENCY_MS ?= 300
BENCH_STATE ?= /tmp/mssql-tls-bench
BENCH_OUT ?= /tmp
BENCH_FORKS ?= 50
# make bench probes these endpoints only (bench-full: every profile).
BENCH_PROBE_PROFILES ?= compliant s3 s5 mixed-2012r2

bench: setup
	$(PY) bench/probe_vs_nmap.py --repeat $(or $(REPEAT),1) --profiles $(BENCH_PROBE_PROFILES) \
	  --out $(BENCH_OUT)/probe_vs_nmap.json
	$(PY) bench/fleet_scale.py --hosts 50 --forks $(BENCH_FORKS) --latency-ms $(BENCH_LATENCY_MS) \
	  --state-root $(BENCH_STATE) --out $(BENCH_OUT)/fleet_scale.json
	$(PY) bench/audit_round_trips.py --latency-ms $(BENCH_LATENCY_MS) $(if $(REPEAT),--repeat $(REPEAT)) \
	  --out $(BENCH_OUT)/audit_round_trips.json

bench-full: setup
	$(PY) bench/probe_vs_nmap.py --repeat 5 --out $(BENCH_OUT)/probe_vs_nmap.json
	$(PY) bench/fleet_scale.py --hosts 50 200 500 --forks $(BENCH_FORKS) --latency-ms $(BENCH_LATENCY_MS) \
	  --state-root $(BENCH_STATE) --out $(BENCH_OUT)/fleet_scale.json
	$(PY) bench/audit_round_trips.py --latency-ms $(BENCH_LATENCY_MS) --repeat 3 \
	  --out $(BENCH_OUT)/audit_round_trips.json

clean: lab-down
	rm -rf $(LAB_STATE) tests/output build
