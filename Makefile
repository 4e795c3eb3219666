# Roster Sync: every task a developer or CI runs. `make demo` and `make test` are the README's two commands.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The Lambda runtime is python3.13: the virtual environment uses the same version.
# pyenv's shim for python3.13 exists even where 3.13 is not selected, so the real interpreter comes first.
PYTHON313 ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.13*/bin/python3.13 /usr/local/bin/python3.13 /usr/bin/python3.13))
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export SAM_CLI_TELEMETRY := 0
export PATH := $(CURDIR)/$(BIN):$(PATH)
REGION ?= us-east-1

.PHONY: help venv demo test unit integration e2e browser lint lint-style lint-types lint-audit lint-policy validate build \
	local sandbox bench fleet soak clean openapi lock console-deploy contract-check-v1p2

help:
	@echo "make demo   run the product locally against the sandbox SIS and print a sync summary"
	@echo "make test   every check: make lint, pytest (unit, integration, e2e), sam build"
	@echo "make lint   ruff, ruff format --check, mypy, pip-audit (the locks), checkov and sam validate --lint (template.yaml)"
	@echo "make local  start the local stack (API :3000, console :3001, AWS :5000, sandbox SIS :8900)"
	@echo "make browser  the console's browser suite only (needs chromium)"
	@echo "make console-deploy STACK=rostersync-dev  upload the console and its config.json to a deployed stack"
	@echo "make bench  the district-scale benchmark (bench/README.md)"
	@echo "make fleet  one night of 10,000 districts, simulated from the bench's costs"
	@echo "make soak   the long fault and crash soak"
	@echo "make contract-check-v1p2 [AUTH=oauth1]  the shared contract check against a OneRoster 1.2-only sandbox"
	@echo "make validate / build / openapi / lock / clean"

# Installed from the locks, every file checked against its hash; pip resolves nothing afresh.
# The project itself goes in editable, without build isolation (setuptools comes from the lock too).
# checkov has a venv of its own inside this one (pyproject.toml's [dependency-groups] says why).
CHECKOV_VENV := $(VENV)/checkov
$(STAMP): requirements-dev.lock requirements-checkov.lock layers/core/requirements.lock pyproject.toml
	@test -n "$(PYTHON313)" || { echo "python3.13 not found (pyenv install 3.13)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON313) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --require-hashes --no-deps -r requirements-dev.lock
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	$(BIN)/python -m pip check
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON313) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --require-hashes --no-deps -r requirements-checkov.lock
	$(CHECKOV_VENV)/bin/python -m pip check
	touch $(STAMP)

venv: $(STAMP)

demo: venv
	$(BIN)/rostersync demo

# `make test` runs test files in this many processes (pytest-xdist), each with its own embedded
# moto. Three on two cores: a part of a test's time is waiting (a worker's sleep, a browser, an
# SIS's Retry-After), which a third process fills (README: how long it takes).
TEST_WORKERS ?= 3
# The soak's processes: as its figures in docs/reliability.md were measured.
SOAK_WORKERS ?= 2

# The browser suite (tests/browser) needs a Chromium: say plainly whether it runs.
CHROMIUM ?= $(firstword $(ROSTERSYNC_CHROMIUM) $(wildcard /usr/bin/chromium) $(shell command -v chromium 2>/dev/null))

test: venv
	$(MAKE) --no-print-directory lint
	@if [ -n "$(CHROMIUM)" ]; then echo "browser suite: runs with $(CHROMIUM)"; \
	 else echo "browser suite: SKIPPED, no Chromium found (apt-get install chromium, or set ROSTERSYNC_CHROMIUM)"; fi
	$(BIN)/python -m pytest -q -m "not soak" --durations=15 -n $(TEST_WORKERS) --dist loadfile tests
	$(MAKE) --no-print-directory build

unit: venv
	$(BIN)/python -m pytest -q tests/unit

integration: venv
	$(BIN)/python -m pytest -q tests/integration

e2e: venv
	$(BIN)/python -m pytest -q tests/e2e -m "not soak"

browser: venv
	$(BIN)/python -m pytest -q tests/browser

STACK ?= rostersync-dev
console-deploy: venv
	$(BIN)/rostersync console deploy --stack $(STACK) --region $(REGION)

# The soak's tests are seeds of a few scenarios, most in two files: spread test by test (--dist load),
# not file by file as `make test` does, or one process would run all 30 crash seeds.
soak: venv
	$(BIN)/python -m pytest -q -m soak --durations=15 -n $(SOAK_WORKERS) --dist load tests

# Every check of the code and the template, side by side (each prints its own lines); any finding
# fails. Configuration: pyproject.toml ([tool.ruff], [tool.mypy]); checkov's skips sit next to
# their resources in template.yaml, each with its reason. The dependency audit needs a
# vulnerability service: without one it prints a WARNING line and passes
# (ROSTERSYNC_AUDIT_REQUIRED=1 makes that a failure).
lint: venv
	@$(MAKE) --no-print-directory -j 5 --output-sync=target lint-style lint-types lint-audit lint-policy validate
	@echo "lint: no findings"

lint-style: venv
	$(BIN)/ruff check --quiet .
	$(BIN)/ruff format --check --quiet .

lint-types: venv
	$(BIN)/mypy

lint-audit: venv
	$(BIN)/python -m rostersync_tools.dependency_audit

# checkov exits 0 on a template it cannot parse: a parsing error is a finding too.
POLICY_TEMPLATE ?= template.yaml
lint-policy: venv
	@out=$$($(CHECKOV_VENV)/bin/checkov --file $(POLICY_TEMPLATE) --framework cloudformation --compact --quiet \
		--skip-download 2>&1); status=$$?; echo "$$out"; \
	 if echo "$$out" | grep -q "Parsing errors: [1-9]"; then echo "checkov could not parse $(POLICY_TEMPLATE)"; exit 1; fi; \
	 exit $$status

validate: venv
	$(BIN)/sam validate --lint --region $(REGION) --template-file template.yaml

build: venv
	$(BIN)/sam build --region $(REGION) --template-file template.yaml --build-dir .aws-sam/build

local: venv
	$(BIN)/rostersync local up

sandbox: venv
	$(BIN)/rostersync sandbox-sis

# ../shared/contract-check/e2e_contract.py (1.1 only, read-only) run against a 1.2-only sandbox on a
# free port, changed only where 1.2 differs (docs/oneroster.md). 15-30 minutes. CONTRACT_CHECK_DIR
# when the shared folder is not beside this checkout (a worktree).
AUTH ?= oauth2
contract-check-v1p2: venv
	$(BIN)/python -m rostersync_tools.contract_check_v1p2 --project . --sandbox --auth $(AUTH) \
		$(if $(CONTRACT_CHECK_DIR),--check-dir $(CONTRACT_CHECK_DIR))

openapi: venv
	$(BIN)/python -m rostersync.api.openapi > docs/openapi.json  # byte for byte what tests/unit/api/test_openapi.py expects

bench: venv
	$(BIN)/python bench/district_sync.py

# One night of a 10,000-district fleet, simulated from make bench's measured costs (bench/README.md).
fleet: venv
	$(BIN)/python bench/fleet_night.py

# Re-pin after changing pyproject.toml's dev extras or layers/core/requirements.txt.
# The dev lock first (every platform); the layer's lock takes the same versions, for Lambda
# (Linux arm64, Python 3.13), without the AWS SDK the runtime provides.
LAYER_NOT_SHIPPED := botocore python-dateutil six s3transfer
lock: venv
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.13 --generate-hashes \
		--custom-compile-command "make lock" --quiet -o requirements-dev.lock
	cd layers/core && ../../$(BIN)/uv pip compile requirements.txt -c ../../requirements-dev.lock --generate-hashes \
		--python-version 3.13 --python-platform aarch64-manylinux_2_28 \
		$(foreach p,$(LAYER_NOT_SHIPPED),--no-emit-package $(p)) \
		--custom-compile-command "make lock" --quiet -o requirements.lock
	$(BIN)/uv pip compile --group pyproject.toml:checkov --universal --python-version 3.13 --generate-hashes \
		--custom-compile-command "make lock" --quiet -o requirements-checkov.lock
	$(BIN)/python -m rostersync_tools.dependency_locks stamp

clean:
	rm -rf $(VENV) .aws-sam .pytest_cache .mypy_cache .ruff_cache .rostersync bench/results
