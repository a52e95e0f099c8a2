# anfang: `make demo` runs the demo on the sample video (embedded bus + chDB); `make test` runs every test.
SHELL := /bin/bash
export ANFANG_DATA_DIR ?= $(CURDIR)/data
VENV := $(CURDIR)/.venv

.PHONY: setup demo demo-once test lint unit integration bench servers-start servers-stop servers-status clean

setup:
	bash deploy/setup.sh

demo: setup
	$(VENV)/bin/anfang demo

demo-once: setup
	$(VENV)/bin/anfang demo --once

test: setup
	bash tests/run.sh

lint:
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

unit:
	$(VENV)/bin/pytest -m "not integration" tests

bench: setup
	$(VENV)/bin/python bench/pipeline.py

servers-start:
	deploy/local/start

servers-stop:
	deploy/local/stop

servers-status:
	deploy/local/status

clean: servers-stop
	rm -rf $(ANFANG_DATA_DIR)/chdb $(ANFANG_DATA_DIR)/snapshots $(ANFANG_DATA_DIR)/kafka/logs $(ANFANG_DATA_DIR)/clickhouse
