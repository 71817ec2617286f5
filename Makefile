# The interface users, CI and reviewers rely on. See README.md.
SHELL := /bin/bash
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

.PHONY: setup lab-up lab-down lab-stats test lint demo bench clean

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

lint: setup
	$(BIN)/ruff check plugins tests bench

test: setup lint
	$(BIN)/pytest -q

demo: setup
	@echo "make demo: the audit arrives with the audit issue"; exit 1

bench: setup
	@echo "make bench: benchmarks arrive with the prober and audit issues"; exit 1

clean: lab-down
	rm -rf $(LAB_STATE) tests/output
