# Secure Privacy — the two commands of the README, and helpers.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: demo test install lint test-python test-php test-js bench test-faults bench-scale bench-scan

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

## make bench-scan: a site scan of a 50-page WordPress, three states per page, through the real
## API and worker on a private stack (bench/scan.py; PAGES=10 for a quick run; BROWSERS=n sets
## SP_SCAN_BROWSERS): pages/s, total, time per state, peak PSS, CPU; exit 1 if a page's
## cookies, storage or requests are missing from the report.
PAGES ?= 50
bench-scan: install
	$(PY) bench/scan.py --pages $(PAGES) $(if $(BROWSERS),--env SP_SCAN_BROWSERS=$(BROWSERS))
