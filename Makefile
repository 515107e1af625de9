# aTES: `make run` serves the app on http://127.0.0.1:5000, `make test` runs every test.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
FLASK  := $(BIN)/flask --app wsgi

.PHONY: run test test-fast lint bench-quick setup-browser setup-haproxy node_modules screenshots clean catalogues messages-extract messages-update messages-compile

$(BIN)/activate:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.runtime: requirements.txt | $(BIN)/activate
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

# Translations (app/translations/<locale>/LC_MESSAGES/messages.po, gettext): `messages-extract`
# writes every message of the code and templates into messages.pot, `messages-update` merges
# it into each catalogue (new messages to translate, changed ones marked fuzzy), and the
# compiled .mo files, never committed, are built from the .po files by `catalogues` (which
# `run` and `test` do first).
BABEL_KEYWORDS := -k N_ -k Nn_:1,2 -k _l  # also the defaults: _, gettext, ngettext, …
# (Babel skips folders named _* by default, such as templates/_macros; only these are skipped.)
CATALOGUES := $(patsubst %.po,%.mo,$(wildcard app/translations/*/LC_MESSAGES/messages.po))

app/translations/%/LC_MESSAGES/messages.mo: app/translations/%/LC_MESSAGES/messages.po | $(VENV)/.runtime
	$(BIN)/pybabel compile -d app/translations -l $*

catalogues: $(CATALOGUES)

messages-extract: $(VENV)/.runtime
	$(BIN)/pybabel extract -F babel.cfg $(BABEL_KEYWORDS) --ignore-dirs ".* __pycache__" \
		--no-location --sort-output --width 100 \
		--project aTES --copyright-holder "UberPopug Inc." -o app/translations/messages.pot .

messages-update: messages-extract
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --width 100 \
		--ignore-obsolete

messages-compile: $(VENV)/.runtime
	$(BIN)/pybabel compile -d app/translations

# The web server in the foreground and the job worker (it runs the shuffles) beside it,
# stopped with it.
run: $(VENV)/.runtime catalogues
	$(FLASK) db upgrade
	$(FLASK) demo seed
	$(FLASK) jobs work & worker=$$!; trap 'kill $$worker 2>/dev/null; wait $$worker' EXIT INT TERM; \
		$(FLASK) run --host 127.0.0.1 --port 5000

# Browser tests drive Debian's Chromium: `make setup-browser` installs it (as root; CI does
# it before `make test`). Without it the browser tests are skipped (they fail under CI=true).
setup-browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); } || \
		echo "Chromium is not installed: browser tests will be skipped (they fail under CI=true)."

# The two-hosts test (tests/reliability/test_two_hosts.py) puts Debian's HAProxy in front of
# two app hosts; install it when it is missing and we may (root). The test runs its own
# HAProxy process with docs/haproxy.cfg; the package's own service plays no part.
setup-haproxy:
	@command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ] || { [ "$$(id -u)" = 0 ] && \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >/dev/null); } || \
		echo "HAProxy is not installed: the two-hosts test will be skipped (it fails under CI=true)."

# The Nu Html Checker (npm's vnu-jar, pinned in package.json and package-lock.json) for
# tests/e2e/test_html_valid.py; it runs on the machine's Java. --ignore-scripts: its
# postinstall script would download a Java of its own.
node_modules/.installed: package.json package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		npm ci --no-audit --no-fund --ignore-scripts --loglevel=error && touch $@; \
	else echo "npm is not installed: the HTML validation test will be skipped (it fails under CI=true)."; fi

node_modules: node_modules/.installed

test: $(VENV)/.dev catalogues node_modules/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest

# The inner loop while working: everything but the browser, reliability and deployment tests.
test-fast: $(VENV)/.dev catalogues
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/pytest -m "not e2e" --ignore=tests/e2e --ignore=tests/reliability \
		--ignore=tests/test_procfile.py --ignore=tests/api/test_live_fuzz.py \
		--ignore=tests/api/test_readme_script.py

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# Every bench/ script with --quick (a smoke run; .ci/run does it on both databases). On
# PostgreSQL: make bench-quick BENCH_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/NAME
bench-quick: $(VENV)/.dev
	PYTHON=$(BIN)/python bench/smoke.sh $(BENCH_DATABASE_URL)

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache node_modules

# PNGs of the main pages at desktop and phone width, into docs/screenshots/ (see the README).
screenshots: $(VENV)/.dev setup-browser catalogues
	$(BIN)/python -m scripts.screenshots
