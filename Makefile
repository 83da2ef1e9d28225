# The two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
RUN_STAMP := $(VENV)/.installed-run

.PHONY: demo test lint bench clean messages

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The demo needs only the bot; the tests add their tools (a much larger install).
# The message catalogues are compiled (.po to .mo) beside their sources; a .mo older than
# its .po is ignored, and archive.i18n then compiles the .po in memory.
COMPILE_MESSAGES = $(BIN)/pybabel -q compile -d archive/i18n/locales -D tweetchat

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	$(COMPILE_MESSAGES)
	touch $(RUN_STAMP)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	$(COMPILE_MESSAGES)
	touch $(STAMP) $(RUN_STAMP)

demo: $(RUN_STAMP)
	$(BIN)/tweetchat demo

test: $(STAMP)
	$(COMPILE_MESSAGES)
	$(BIN)/ruff check bot scheduler archive tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports
	$(BIN)/python -m pytest -q

lint: $(STAMP)
	$(BIN)/ruff check bot scheduler archive tests benchmarks
	$(BIN)/ruff format --check bot scheduler archive tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

# The bot's words: extract the English messages, merge them into every catalogue, compile.
# Translate what is new or fuzzy in archive/i18n/locales/*/LC_MESSAGES/tweetchat.po, then
# run it again (tests/archive/test_i18n.py fails on a missing or fuzzy translation).
I18N := archive/i18n/locales
messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k counted:1,2 -k t -c Translators: --no-location --no-wrap --omit-header \
	    --project tweetchat --copyright-holder "tweetchat contributors" \
	    -o $(I18N)/tweetchat.pot bot scheduler archive
	$(BIN)/pybabel update -i $(I18N)/tweetchat.pot -d $(I18N) -D tweetchat --no-wrap --ignore-obsolete
	$(BIN)/pybabel compile -d $(I18N) -D tweetchat --statistics

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis demo-output
