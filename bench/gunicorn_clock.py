"""Gunicorn configuration for ``bench/order_load.py`` only: every worker runs on one shifted, ticking clock.

The order API stamps receipt with ``django.utils.timezone.now()``. To load it across a real cut-off
(12:00 ET on a business day) without a test hook in production code, each worker starts
``time_machine.travel`` right after it is forked::

    server time = BENCH_CLOCK_TARGET + (time.monotonic() - BENCH_CLOCK_ANCHOR)

The target is epoch seconds, the anchor a reading of the machine's monotonic clock (shared by every
process, and not patched by time-machine, so gunicorn's heartbeats and keep-alive timers are
unaffected); the benchmark sets both before it starts the master. Every worker (and a worker that
gunicorn replaces) computes its clock from the same two numbers, so all of them share one clock that
ticks in real time, and the benchmark maps its own monotonic clock onto it the same way.

time-machine starts a ticking clock at its first reading, not when travel starts, and a worker can be
descheduled at any point on a busy machine: so each worker reads the shifted clock between two
monotonic readings taken less than 200 microseconds apart and corrects the offset with
``Traveller.shift`` until it agrees with the formula.

Never use this file to serve anything real.
"""

from __future__ import annotations

import os
import time

import time_machine

_TARGET = float(os.environ["BENCH_CLOCK_TARGET"])
_ANCHOR = float(os.environ["BENCH_CLOCK_ANCHOR"])  # time.monotonic() of the benchmark process

wsgi_app = "backoffice.wsgi:application"
bind = os.environ.get("BENCH_BIND", "127.0.0.1:8765")
workers = int(os.environ.get("BENCH_WORKERS", "3"))
worker_class = os.environ.get("BENCH_WORKER_CLASS", "sync")
threads = int(os.environ.get("BENCH_THREADS", "1"))
preload_app = True  # Django is imported once in the master; workers fork ready to serve
backlog = 2048
keepalive = 30  # gthread: the benchmark's clients reuse their connections
timeout = 60
graceful_timeout = 10
loglevel = "warning"
accesslog = None
errorlog = "-"

_travellers = []  # keeps the traveller of this worker alive for the worker's lifetime


def _expected(monotonic: float) -> float:
    return _TARGET + (monotonic - _ANCHOR)


def post_fork(server, worker):
    traveller = time_machine.travel(_expected(time.monotonic()), tick=True).start()
    _travellers.append(traveller)
    for _ in range(1000):
        before = time.monotonic()
        shifted = time.time()  # the first reading also starts the tick
        after = time.monotonic()
        if after - before > 0.0002:
            continue  # descheduled between the readings: the sample says nothing precise
        error = shifted - _expected((before + after) / 2)
        if abs(error) < 0.0002:
            return
        traveller.shift(-error)
    raise RuntimeError("could not align the worker's shifted clock")
