"""The Celery application. Configuration comes from Django settings (CELERY_*)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings")
# One BLAS thread per worker process: with --concurrency=2 on a 2-core machine, multi-threaded OpenBLAS
# oversubscribes the cores and the basket engine's SVD slows from ~20 ms to seconds (bench/basket_speed.py).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

app = Celery("backoffice")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
