PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install bench conformance clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/dtao run launch --out runs/launch
	$(BIN)/dtao report runs/launch

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q --durations=15

conformance: $(STAMP)
	$(BIN)/dtao conformance run ../shared/conformance/launch/*.json

bench: $(STAMP)
	$(BIN)/dtao bench all

clean:
	rm -rf $(VENV) runs .pytest_cache
