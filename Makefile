# The embedded default: the local Docker engine, a registry on 127.0.0.1:5000, file:// artifacts under .demo/.
SHELL := /bin/bash
ENV := source scripts/env.sh

.PHONY: demo test test-fast lint bench clean venv stack test-tools

demo:  ## run the lifecycle DAG end to end and print the endpoint URL and a prediction
	bash scripts/demo.sh

test: venv stack test-tools  ## run the whole test suite (needs root on a fresh Debian/Ubuntu machine, or a Docker engine)
	$(ENV) && python -m pytest $(PYTEST_ARGS)

test-fast: venv  ## the tests that need no Docker engine
	$(ENV) && python -m pytest -m "not docker and not airflow_e2e" $(PYTEST_ARGS)

lint: venv  ## ruff
	$(ENV) && ruff check . && ruff format --check .

bench: venv stack  ## run the benchmarks and write bench/REPORT.md
	$(ENV) && python -m bench.run

clean:  ## remove what the demo left: endpoints, their containers, the registry, the demo state
	bash scripts/clean.sh

venv:
	bash scripts/setup-venv.sh

stack:
	bash scripts/bootstrap.sh all

test-tools:  ## what only the tests drive: Debian's chromium and playwright, a compose CLI, redis and Celery, the SageMaker SDK
	bash scripts/setup-browser.sh
	bash scripts/setup-compose.sh
	bash scripts/setup-celery.sh
	bash scripts/setup-sdk.sh
