# Atelier — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
export HOST PORT

RUN_STAMP := $(VENV)/.run-installed
DEV_STAMP := $(VENV)/.dev-installed
NODE_STAMP := node_modules/.installed
BUNDLE_STAMP := web/static/build/.built
NATIVE_SOURCES := setup.py sfu/native/build.py sfu/native/sender.c sfu/native/sender.h
EDITOR_SOURCES := $(shell find editor -name "*.ts") editor/tsconfig.json
EDITOR_ENTRIES := $(wildcard editor/entries/*.ts)

.PHONY: run test setup setup-dev lint types unit sysdeps bundle bench bench-store clean help \
	lock-check lock upgrade audit js-test

help:
	@echo "make run     - set everything up and serve on http://$(HOST):$(PORT)"
	@echo "make test    - set everything up and run lint, types and the whole test suite"
	@echo "make bench   - run the benchmarks (see docs/benchmarks.md)"
	@echo "make lock    - re-resolve the Python lock after editing pyproject.toml (other pins kept)"
	@echo "make upgrade - re-resolve every Python package to its newest allowed release, then test"
	@echo "make audit   - check the locked packages against known vulnerabilities (needs network)"

# Python packages come from the lock (requirements.txt, requirements-dev.txt: every file's hash checked), never from
# a fresh resolution: a new machine installs exactly what was tested. tools/lock.py says more.
PIP := $(BIN)/python -m pip --disable-pip-version-check
LOCK_RUN := requirements.txt
LOCK_DEV := requirements-dev.txt

# The editable install also builds the SFU's C sender (setup.py, sfu/native/) where a C compiler
# exists; `python -m sfu.native` then says whether it is in use, or warns with the compiler's
# reason (the SFU works without it, sending from Python: more CPU per stream).
$(RUN_STAMP): $(LOCK_RUN) pyproject.toml $(NATIVE_SOURCES)
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --require-hashes --no-deps -r $(LOCK_RUN)
	$(PIP) install --quiet --no-deps --no-build-isolation -e .
	$(PIP) check
	@$(BIN)/python -m sfu.native
	@touch $@

$(DEV_STAMP): $(LOCK_DEV) $(RUN_STAMP)
	$(PIP) install --quiet --require-hashes --no-deps -r $(LOCK_DEV)
	$(PIP) check
	@touch $@

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

$(BUNDLE_STAMP): $(NODE_STAMP) $(EDITOR_SOURCES) package-lock.json
	@mkdir -p web/static/build
	@if [ -n "$(EDITOR_ENTRIES)" ]; then \
	  node_modules/.bin/esbuild $(EDITOR_ENTRIES) --bundle --format=esm --splitting \
	    --minify --sourcemap --target=es2020 --outdir=web/static/build --log-level=warning; \
	fi
	@touch $@

bundle: $(BUNDLE_STAMP)

setup: $(RUN_STAMP) $(BUNDLE_STAMP)

setup-dev: sysdeps $(DEV_STAMP) $(BUNDLE_STAMP)

# Debian packages the tests use, installed when missing and we are root (CI is).
sysdeps:
	@missing=""; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	test -x /usr/bin/chromium || missing="$$missing chromium"; \
	command -v cc >/dev/null || missing="$$missing gcc"; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	  else echo "missing Debian packages:$$missing (tests needing them will skip)"; fi; \
	fi

# `atelier serve` migrates the database before it listens. Links in mails use the address
# served, unless ATELIER_PUBLIC_URL says another (docs/settings.md).
run: setup
	ATELIER_PUBLIC_URL="$${ATELIER_PUBLIC_URL:-http://$(HOST):$(PORT)}" \
	  exec $(BIN)/atelier serve --host $(HOST) --port $(PORT)

# The lock must still satisfy pyproject.toml's ranges (offline; says which command fixes it).
lock-check: $(DEV_STAMP)
	$(BIN)/python tools/lock.py check

lock: $(DEV_STAMP)
	$(BIN)/python tools/lock.py compile

upgrade: $(DEV_STAMP)
	$(BIN)/python tools/lock.py upgrade
	$(MAKE) test

audit: $(DEV_STAMP)
	$(BIN)/python tools/lock.py audit

lint: $(DEV_STAMP) $(NODE_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	node_modules/.bin/tsc -p editor/tsconfig.json --noEmit
	node_modules/.bin/tsc -p editor/tests/tsconfig.json --noEmit

# The pure parts of the browser code, under node's own test runner (bundled by esbuild first).
JS_TEST_OUT := build/js-tests
js-test: $(NODE_STAMP)
	@rm -rf $(JS_TEST_OUT)
	@node_modules/.bin/esbuild editor/tests/*.test.ts --bundle --platform=node --format=esm \
	  --outdir=$(JS_TEST_OUT) --out-extension:.js=.mjs --log-level=warning \
	  --banner:js="import { createRequire } from 'module'; const require = createRequire(import.meta.url);"
	node --test --test-reporter=dot $(JS_TEST_OUT)/

types: $(DEV_STAMP)
	$(BIN)/mypy

unit: setup-dev
	$(BIN)/pytest -q

# The suite runs on every core (2 here and in CI), a test file per worker at a time: most of
# its time is spent waiting on servers, browsers and peers. PYTEST_WORKERS=0 runs it in one
# process.
PYTEST_WORKERS ?= 2
test: setup-dev lock-check lint types js-test
	$(BIN)/pytest -q -ra -n $(PYTEST_WORKERS) --dist loadfile

bench: bench-sync bench-store

bench-store: $(RUN_STAMP)
	$(BIN)/python bench/store_bench.py

clean:
	rm -rf $(VENV) node_modules web/static/build build sfu/native/_sender*

-include bench/bench.mk
-include bench/sfu.mk

# The State's design system for ATELIER_THEME=etat (State services only, under the DSFR's terms
# of use: docs/design.md). Run as `DSFR_ACCEPT_LICENSE=1 make dsfr` once they are accepted.
.PHONY: dsfr
dsfr: $(RUN_STAMP)
	$(BIN)/python tools/dsfr.py

# Screenshots of every main page at laptop and phone size, for a reviewer (not in git).
.PHONY: screenshots
screenshots: setup-dev
	$(BIN)/python bench/screenshots.py --out build/screenshots
