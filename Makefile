# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: run test venv migrate demo serve worker beat bench check-deploy clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements.txt
	touch $@

migrate: venv
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py load_demo

serve: venv
	$(PY) manage.py runserver $(HOST):$(PORT)

## Create the virtualenv, install, migrate, load the demo and serve on 127.0.0.1:8000.
run: demo serve

## The whole pytest suite (SQLite and eager Celery unless DATABASE_URL / REDIS_URL are set).
test: venv
	$(PY) -m pytest -p no:cacheprovider $(PYTEST_ARGS)

## With REDIS_URL set: a real Celery worker and beat (beat schedule from backoffice/celery_schedule.py).
worker: venv
	$(VENV)/bin/celery -A backoffice worker --loglevel=INFO --concurrency=2

beat: venv
	$(VENV)/bin/celery -A backoffice beat --loglevel=INFO

bench: venv
	$(PY) bench/nav_strikes.py

## Substitute Basket benchmarks: speed (engine vs cvxpy + Clarabel, 100-Fund daily run), the real daily run
## through the service and the database (bench-daily), then quality.
## cvxpy is a benchmark-only dependency, installed from bench/requirements.txt. BENCH_DATA=FILE: another price CSV.
.PHONY: bench-baskets bench-daily bench-orders
bench-baskets: venv
	$(PIP) install --quiet -r bench/requirements.txt
	$(PY) bench/basket_speed.py $(if $(BENCH_DATA),--data $(BENCH_DATA))
	$(PY) bench/basket_daily_run.py $(if $(BENCH_DATA),--data $(BENCH_DATA))  # bench-daily
	$(PY) bench/basket_quality.py $(if $(BENCH_DATA),--data $(BENCH_DATA))

## The 100-Fund daily run end to end (publish, proxy spreads, no-op re-run) on a throwaway database:
## DATABASE_URL's server when set (it creates and drops bench_basket_<pid>), else a temporary SQLite file.
bench-daily: venv
	$(PY) bench/basket_daily_run.py $(if $(BENCH_DATA),--data $(BENCH_DATA))

## Order intake under load: gunicorn (bench/gunicorn_clock.py shifts its clock to 2021-04-20 before 12:00 ET) on
## PostgreSQL (DATABASE_URL's server, else 127.0.0.1:5432; creates and drops bench_orders_<pid>), 50 AP clients
## across the Intra-Day cut-off. BENCH_ARGS: e.g. --quick (15 s smoke run), --rate 0 (closed loop), --workers 3.
bench-orders: venv
	$(PY) bench/order_load.py $(BENCH_ARGS)

check-deploy: venv
	DJANGO_SETTINGS_MODULE=backoffice.settings_production $(PY) manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) var staticfiles
