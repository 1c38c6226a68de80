# Two commands for a fresh machine with Python 3.11+ and make:
#   make run    create the environment, ingest seeds/, then talk to the archive
#   make test   create the environment with the test extras and run the whole suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: run test install install-test clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "newsdesk needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .

install-test: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'

# With a Discord token (in the environment or .env) `run` starts the bot; otherwise a terminal chat.
run: install
	$(BIN)/newsdesk ingest seeds
	@if [ -n "$$DISCORD_TOKEN" ] || grep -qsE '^DISCORD_TOKEN=.+' .env; then \
		$(BIN)/newsdesk bot; \
	else \
		$(BIN)/newsdesk chat; \
	fi

test: install-test
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) data .pytest_cache
