# CivicPulse: `make run` to try it, `make test` to check it.
SHELL := /bin/bash
PY := .venv/bin/python

.PHONY: run test check bootstrap bootstrap-dev services migrate seed seed-history stop bench-tenants clean messages

bootstrap:
	@scripts/services.sh install
	@scripts/services.sh start

# The runtime environment plus the test, lint and type-check tools (requirements-dev.txt).
bootstrap-dev:
	@scripts/services.sh install-dev
	@scripts/services.sh start

## make run: install what is missing, start the services, migrate, seed the demo, serve.
run: bootstrap
	@$(PY) manage.py migrate_schemas --noinput -v 0
	@$(PY) manage.py seed_demo
	@scripts/run.sh

## make check: lint and format, types, the import contracts between apps, migrations in step with models.
check: bootstrap-dev
	@echo "==> ruff" && .venv/bin/ruff check . && .venv/bin/ruff format --check .
	@echo "==> import contracts" && .venv/bin/lint-imports --no-cache
	@echo "==> mypy" && .venv/bin/mypy
	@echo "==> migrations" && $(PY) manage.py makemigrations --check --dry-run

## make test: `make check`, then the whole suite against a throwaway test database.
test: check
	@DJANGO_SETTINGS_MODULE=civicpulse.settings.test $(PY) -m pytest $(PYTEST_ARGS)

## make messages: collect the translatable strings into locale/*/django.po, then compile the
## .mo files that are committed beside them (needs GNU gettext: docs/languages.md).
MESSAGE_SOURCES_IGNORED := --ignore='.venv/*' --ignore='.local/*' --ignore='staticfiles/*' --ignore='node_modules/*' \
	--ignore='tests/*' --ignore='bench/*' --ignore='templates/admin/*' --ignore='*/admin.py' --ignore='*/admin_*.py'
messages:
	@command -v xgettext >/dev/null || scripts/services.sh install-gettext
	@$(PY) manage.py makemessages -l es --add-location file $(MESSAGE_SOURCES_IGNORED)
	@$(PY) manage.py compilemessages -l es --ignore='.venv/*' --ignore='.local/*'

migrate: bootstrap
	@$(PY) manage.py migrate_schemas --noinput

seed: migrate
	@$(PY) manage.py seed_demo

## make seed-history: a year of generated 311 history for springfield, through the bulk import.
seed-history: seed
	@$(PY) manage.py seed_history springfield

## Benchmarks drive a bootstrapped instance; see bench/README.md.
bench-tenants: migrate
	@$(PY) bench/tenants.py

stop:
	@scripts/services.sh stop

clean: stop
	rm -rf .local .venv
