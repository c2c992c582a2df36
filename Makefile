# Two commands do all set-up on a fresh machine: `make dev` and `make test` (see README.md).
UV ?= $(shell command -v uv >/dev/null 2>&1 && echo uv || echo "python3 -m uv")
PYTEST_ARGS ?=

.PHONY: bootstrap dev test test-unit lint bench bench-peers drills

bootstrap:
	@$(UV) --version >/dev/null 2>&1 || python3 -m pip install --quiet uv
	@$(UV) sync --frozen --quiet --compile-bytecode

dev: bootstrap
	$(UV) run threadloom dev --config examples/langgraph.json

test: bootstrap
	$(UV) run ruff check src tests bench
	$(UV) run mypy
	$(UV) run pytest -n 2 --dist loadfile -q $(PYTEST_ARGS)

# the tier that needs no PostgreSQL, Redis or server (tests/integration, e2e, cluster need them)
test-unit: bootstrap
	$(UV) run pytest -n 2 --dist loadfile -q tests/unit $(PYTEST_ARGS)

lint: bootstrap
	$(UV) run ruff check src tests bench
	$(UV) run ruff format --check src tests bench
	$(UV) run mypy

bench: bootstrap
	$(UV) run python -m bench.run

# Threadloom and `langgraph dev` side by side on the same graphs and SDK calls (~5 minutes;
# PEERS_ARGS="--quick" for a one-minute smoke run); langgraph-cli goes in its own cached venv
bench-peers: bootstrap
	$(UV) run python -m bench.peers $(PEERS_ARGS)

# fault drills under load (kill -9 embedded and of a cluster worker, PostgreSQL restart, Redis
# restart with takeover): a few minutes, so not part of `make test`; see bench/drills.py
drills: bootstrap
	$(UV) run python -m bench.drills $(DRILLS_ARGS)
