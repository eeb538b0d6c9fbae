# The two commands of the README: `make run` and `make test`. Everything else supports them.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
MO := app/translations/en/LC_MESSAGES/messages.mo

.PHONY: install run test lint fmt i18n-extract i18n-update i18n-compile bench db-stop clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c "import sys; assert sys.version_info >= (3, 11), sys.version" || { echo "Python 3.11 or newer is required"; exit 1; }
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

$(MO): $(STAMP) app/translations/en/LC_MESSAGES/messages.po
	$(BIN)/pybabel compile --use-fuzzy -d app/translations

install: $(STAMP) $(MO)

## Run the platform with demo data: embedded PostgreSQL, migrations, demo, web + worker.
run: install
	MBOLO_ENV=$${MBOLO_ENV:-development} $(BIN)/mbolo db upgrade
	MBOLO_ENV=$${MBOLO_ENV:-development} $(BIN)/mbolo demo
	MBOLO_ENV=$${MBOLO_ENV:-development} $(BIN)/mbolo run --host $${HOST:-127.0.0.1} --port $${PORT:-5000}

## The test suite on the embedded PostgreSQL (or DATABASE_URL / CELERY_BROKER_URL when set).
test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

fmt: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

i18n-extract: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o app/translations/messages.pot --no-location app tenants hierarchy notifications portal payments

i18n-update: i18n-extract
	$(BIN)/pybabel update -i app/translations/messages.pot -d app/translations --no-fuzzy-matching

i18n-compile: $(STAMP)
	$(BIN)/pybabel compile --use-fuzzy -d app/translations

bench: install
	for script in bench/[!_]*.py; do MBOLO_ENV=test $(BIN)/python $$script || exit 1; done

db-stop: $(STAMP)
	$(BIN)/mbolo db stop

clean:
	rm -rf $(VENV) var
