# Both targets create .venv and install everything they need on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck layers unit install browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

# The HTML view is tested in a real headless Chromium: Debian's package, launched through
# Playwright's executable_path (Playwright's own browser download is not reachable here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium >/dev/null; }

demo: $(STAMP)
	$(VENV)/bin/tracetape demo

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks notebooks

typecheck: $(STAMP)
	$(VENV)/bin/pyright

layers: $(STAMP)
	$(VENV)/bin/lint-imports

unit: $(STAMP) browser
	$(PY) -m pytest -q

test: lint typecheck layers unit

clean:
	rm -rf $(VENV) .tracetape
