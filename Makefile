# The two set-up commands of README.md: `make run` and `make test`. Each installs what it needs.
VENV ?= .venv
PYTHON ?= python3
BIN := $(VENV)/bin
STAMP := $(VENV)/.twinning-installed
# elsewhere than this machine, point this at PyTorch's CPU wheel index so no CUDA build is pulled
TORCH_INDEX ?=

.PHONY: install run test lint bench browser screenshots

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet torch==2.13.0 $(if $(TORCH_INDEX),--index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/twinning demo
	HF_HUB_OFFLINE=1 $(BIN)/twinning serve

# the browser tests drive Debian's Chromium; nothing downloads a browser of its own
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "The browser tests need Chromium: install it (Debian/Ubuntu: sudo apt-get install chromium)"; exit 1; \
	  fi; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: $(STAMP) browser lint
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

# the browser tests save their screenshots in a temporary folder; this refreshes the README's pictures
screenshots: $(STAMP) browser
	TWINNING_SCREENSHOTS=$(CURDIR)/docs/screenshots HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q tests/web/test_browser.py tests/web/test_browser_import.py tests/web/test_browser_phone.py

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/suggestions.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/rerank.py
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/pairing.py
