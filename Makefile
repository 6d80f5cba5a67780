# Secure Privacy — the two commands of the README, and helpers.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test install lint test-python test-php test-js bench test-faults bench-scale

## make demo: install what is missing, start the whole stack in the foreground, print READY.
demo: install
	$(PY) scripts/stack.py demo

## make test: install what is missing and run every suite (JS, PHP, Python, end-to-end).
test: install
	bash scripts/test.sh

install:
	bash scripts/install.sh

lint: install
	$(VENV)/bin/ruff check sidecar tests scripts

test-python: install
	$(VENV)/bin/python -m pytest

test-php: install
	phpunit -c tests/php/phpunit.xml

test-js: install
	npm test --silent

## make test-faults: the fault suite's long run on a stack of its own (about 5 minutes):
## sidecar SIGKILLs, MariaDB down 60 s, browser kills; exact counts, exit 1 if anything is lost.
test-faults: install
	$(PY) bench/faults.py

## make bench-scale: the ledger and storage at 1M records (bench/scale.py; RECORDS=100000 for a
## quick run, RECORDS=100000,1000000 for both): bytes per record, GET /v1/integrity, sidecar
## verify with its peak memory, sealing; private MariaDB in a fresh temp folder.
RECORDS ?= 1000000
bench-scale: install
	$(PY) bench/scale.py --records $(RECORDS) $(if $(JSON),--json $(JSON))
