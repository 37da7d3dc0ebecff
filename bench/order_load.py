"""Benchmark: 50 AP clients placing creation/redemption orders over gunicorn + PostgreSQL across the 12:00 ET cut-off.

Run from the repository root:

    .venv/bin/python bench/order_load.py                 # 75 s of load, 50 clients, 330 requests/s offered
    .venv/bin/python bench/order_load.py --quick         # a 15 s smoke run
    .venv/bin/python bench/order_load.py --rate 0        # closed loop: the server's saturation throughput
    .venv/bin/python bench/order_load.py --workers 3 --worker-class sync
    .venv/bin/python bench/order_load.py --profile /tmp/post.pstats   # no server: cProfile the POST path in-process

What runs
    PostgreSQL only (the target is a production-shaped server): ``DATABASE_URL``'s server if set, else
    postgres://postgres@127.0.0.1:5432/postgres. Like the other benchmarks it creates its own database
    ``bench_orders_<pid>`` there (``nav_strikes.ThrowawayDatabase``), migrates it, and drops it at the
    end, on failure too. It never touches the developer's database.

    Setup (not timed), through the real services: ``tests.orders_fixtures.build_trading_day`` (40 real
    securities, Fund BSKT, its Substitute Basket published for 2021-04-20, 12:00 snapshots, order terms,
    two APs), then more APs up to ``--aps`` (``participant_save``, ``agreement_add``,
    ``participant_user_bind``), one of them a 6% holder (``participant_holding_report``: its in-kind
    orders are marked affiliated), and an API token per AP user. One fixture row skips the services: a
    500M-share creation in the ledger before the trade date, so redemptions are not refused for want of
    Shares outstanding (pending redemptions accumulate: nothing is priced during the run).

    Server: gunicorn (``bench/gunicorn_clock.py``), by default 2 gthread workers x 4 threads (the best of
    sync and gthread with 2-5 workers on the 2-core machine, closed loop: gthread keeps connections alive
    and overlaps the database round trips; more processes only add contention), with DEBUG=0, LOG_LEVEL=WARNING,
    ALLOWED_HOSTS=127.0.0.1, DATABASE_URL pointing at the throwaway database (CONN_MAX_AGE 60). The
    config's ``post_fork`` starts ``time_machine.travel`` in every worker, so the server's clock reads
    ``--trade-date`` at ``cut-off - --lead`` when the load starts and ticks in real time: the load spans
    the Intra-Day cut-off (12:00:00 ET) with ``--lead`` seconds before it. No production code is patched.

    Clients: ``--clients`` (50) asyncio clients in this process on raw keep-alive HTTP/1.1 connections
    (cheap, to leave the cores to the server), sharing ``--aps`` (10) APs' tokens. With ``--rate R``
    (requests/s, all clients together) each client follows a fixed open-loop schedule of R/clients
    requests/s; ``--rate 0`` is closed-loop (each client sends its next request as soon as it has the
    answer): the server's saturation throughput. Orders: 55% in-kind creations, 20% cash creations, 15%
    in-kind redemptions, 10% cash redemptions, 1-3 Creation Units, NSCC (DTC for the AP that is not an
    NSCC member). Every new order has a unique Idempotency-Key; a ``--retry-fraction`` of the slots
    (5%) is a deliberate retry with the same key and payload: half fired concurrently with the original
    on a second connection (a timeout retry racing its original), half re-sent after the original was
    answered.

Measured
    ``orders_per_s``: 201 responses received in the measured window (after ``--warmup`` seconds) per
    second. ``p50_ms``/``p99_ms``: client-side latency (write of the request to the last byte of the
    response) of every POST sent in the measured window, 201s and replays alike; ``p99_from_schedule_ms``
    measures from the scheduled send instead (open loop: includes any time the client ran late).
    ``errors``: every response other than 201 (new) and 200 with Idempotent-Replayed (replay), and every
    transport failure. ``duplicates``: (AP, key) pairs with more than one order in the database + orders
    beyond the number of distinct keys sent + keys answered with two different order references.
    ``wrong_side_of_cutoff``: orders in the database received before 12:00:00 ET without the Intra-Day
    strike or at/after it without End of Day, plus orders the client saw answered wholly before the
    cut-off (in the server's clock, 5 ms margin) with End of Day, or sent wholly after it with Intra-Day.

The table comes first; the last line of output is one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import gc
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench/, for nav_strikes
from nav_strikes import REPO_ROOT, ThrowawayDatabase, peak_rss_mb  # noqa: E402  (also sets DJANGO_SETTINGS_MODULE)

TARGET_ORDERS_PER_S = 300.0  # issue 4, item 10
TARGET_P99_MS = 150.0
GUNICORN_CONFIG = REPO_ROOT / "bench" / "gunicorn_clock.py"
CLIENT_MARGIN_S = 0.005  # client-observed cut-off check: how clearly before/after the cut-off a request must be
ORDER_MIX = (  # (weight, side, basket_type)
    (55, "CREATE", "STANDARD"),
    (20, "CREATE", "CASH"),
    (15, "REDEEM", "STANDARD"),
    (10, "REDEEM", "CASH"),
)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 15 s of load (3 s warm-up, cut-off 9 s in)")
    parser.add_argument("--duration", type=float, help="seconds of load (default 75; --quick 15)")
    parser.add_argument("--lead", type=float, help="seconds of load before the 12:00 ET cut-off (default 60%% of --duration)")
    parser.add_argument("--warmup", type=float, help="first seconds of load left out of the figures (default 5; --quick 3)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--aps", type=int, default=10, help="Authorized Participants the clients share (at least 2)")
    parser.add_argument("--rate", type=float, default=330.0,
                        help="offered requests/s for all clients together, open loop (default 330: with 5%% retries, 300+ new orders/s "
                             "if the server keeps up); 0: closed loop, as fast as answered")
    parser.add_argument("--retry-fraction", type=float, default=0.05)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (default 2)")
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="gthread")
    parser.add_argument("--threads", type=int, help="threads per gthread worker (default 4)")
    parser.add_argument("--trade-date", default="2021-04-20", help="the business day on the server's clock (default 2021-04-20)")
    parser.add_argument("--seed", type=int, default=20210420)
    parser.add_argument("--port", type=int, default=0, help="port for gunicorn on 127.0.0.1 (default: a free one)")
    parser.add_argument("--profile", metavar="PATH",
                        help="no server, no load: cProfile 500 POSTs in this process (django.test.Client, the whole middleware "
                             "stack), write pstats to PATH, print the top functions and one request's SQL to stderr")
    args = parser.parse_args()
    args.duration = args.duration or (15.0 if args.quick else 75.0)
    args.warmup = args.warmup if args.warmup is not None else (3.0 if args.quick else 5.0)
    args.lead = args.lead if args.lead is not None else round(args.duration * 0.6, 1)
    if not 0 < args.lead < args.duration or args.warmup >= args.lead:
        raise SystemExit("need 0 <= --warmup < --lead < --duration so the measured window spans the cut-off")
    if args.aps < 2 or args.clients < 1:
        raise SystemExit("--aps must be at least 2 and --clients at least 1")
    if args.threads is None:
        args.threads = 4 if args.worker_class == "gthread" else 1
    if args.worker_class == "sync" and args.threads != 1:
        raise SystemExit("--threads is for --worker-class gthread")
    return args


# --------------------------------------------------------------------------- setup (not timed)


def build_fixture(args, trade_date: dt.date, actor) -> dict:
    """The trading day of the order tests, more APs, tokens; returns what the clients need."""
    from rest_framework.authtoken.models import Token

    from funds.models import SharesOutstandingEntry
    from orders import services
    from tests.baskets_fixtures import TRADE_DATE
    from tests.orders_fixtures import build_trading_day, make_agreement, make_ap_user, make_participant

    if trade_date != TRADE_DATE:
        raise SystemExit(f"the fixture's basket is published for {TRADE_DATE}; --trade-date must be that day")
    day = build_trading_day(actor)
    participants = [(day.ap_one, day.user_one), (day.ap_two, day.user_two)]
    for n in range(len(participants), args.aps):
        participant = make_participant(actor, f"Bench Broker {n:02d} LLC", f"{3000 + n:04d}")
        make_agreement(actor, participant)
        participants.append((participant, make_ap_user(actor, participant, f"bench-trader-{n:02d}")))
    fund = day.fund
    # Settled creations of earlier days (fixture row, not an order): room for the run's redemptions.
    SharesOutstandingEntry.objects.create(
        fund=fund, effective_date=trade_date - dt.timedelta(days=4), kind=SharesOutstandingEntry.Kind.CREATION,
        change=Decimal("500000000"), reference="bench-order-load", created_by=actor,
    )
    services.participant_holding_report(
        actor=actor, participant=participants[-1][0], fund=fund, as_of=trade_date - dt.timedelta(days=1), shares=Decimal("30100000"),
    )  # 6% of 500.4M Shares: an affiliated person of the Fund
    aps = []
    for participant, user in participants:
        token, _ = Token.objects.get_or_create(user=user)
        channel = "NSCC" if participant.can_clear("NSCC") else "DTC"
        aps.append({"id": participant.pk, "name": participant.legal_name, "token": token.key, "channel": channel})
    return {"fund": fund.ticker, "basket_id": day.basket.pk, "aps": aps}


# --------------------------------------------------------------------------- server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """gunicorn on the throwaway database, its clock shifted by bench/gunicorn_clock.py."""

    def __init__(self, args, database_url: str, port: int, clock_target: float, clock_anchor: float):
        env = dict(os.environ)
        env.update(
            DATABASE_URL=database_url, DEBUG="0", LOG_LEVEL="WARNING", ALLOWED_HOSTS="127.0.0.1,localhost",
            DJANGO_SETTINGS_MODULE="backoffice.settings", PYTHONUNBUFFERED="1",
            BENCH_BIND=f"127.0.0.1:{port}", BENCH_WORKERS=str(args.workers), BENCH_WORKER_CLASS=args.worker_class,
            BENCH_THREADS=str(args.threads), BENCH_CLOCK_TARGET=repr(clock_target), BENCH_CLOCK_ANCHOR=repr(clock_anchor),
        )
        env.pop("REDIS_URL", None)  # nothing is enqueued on intake; keep Celery out of it
        self.port = port
        self.log = open(os.devnull if os.environ.get("BENCH_SERVER_LOG") is None else os.environ["BENCH_SERVER_LOG"], "w")
        self.process = subprocess.Popen(
            [str(REPO_ROOT / ".venv" / "bin" / "gunicorn"), "-c", str(GUNICORN_CONFIG)],
            cwd=REPO_ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_ready(self, token: str, workers: int, timeout: float = 60.0) -> None:
        """Until every worker has answered an authenticated GET (each opens its DB connection on the way)."""
        deadline = time.monotonic() + timeout
        answered = 0
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.process.returncode}; set BENCH_SERVER_LOG=FILE to see why")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                    sock.sendall(f"GET /api/ap/me/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {token}\r\n"
                                 "Connection: close\r\n\r\n".encode())
                    if sock.recv(12).startswith(b"HTTP/1.1 200"):
                        answered += 1
                        if answered >= workers * 4:
                            return
                        continue
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit(f"gunicorn did not answer within {timeout:.0f} s")

    def worker_pids(self) -> list[int]:
        master = self.process.pid
        try:
            with open(f"/proc/{master}/task/{master}/children") as handle:
                return [int(p) for p in handle.read().split()]
        except OSError:  # no CONFIG_PROC_CHILDREN: look for processes whose parent is the master
            pids = []
            for entry in os.listdir("/proc"):
                try:
                    with open(f"/proc/{entry}/stat") as handle:
                        if int(handle.read().rsplit(")", 1)[1].split()[1]) == master:
                            pids.append(int(entry))
                except (OSError, ValueError, IndexError):
                    continue
            return pids

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # the master only (our child): it stops its workers
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def cpu_seconds(pids: list[int]) -> float:
    """user + system CPU seconds of these processes (Linux /proc; 0 elsewhere)."""
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def machine_cpu() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine."""
    try:
        with open("/proc/stat") as handle:
            values = [int(v) for v in handle.readline().split()[1:]]
    except OSError:
        return 0.0, 0.0
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return float(sum(values) - idle), float(sum(values))


def _cpu_of(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


class PostgresCpu(threading.Thread):
    """CPU of the PostgreSQL backends serving the throwaway database, sampled every second (backends come and go:
    CONN_MAX_AGE closes a worker's connection after 60 s). A backend's CPU counts from the first sample, or from
    its birth if it started during the load; what a backend spent after the last sample before it ended is lost."""

    def __init__(self, database: str):
        super().__init__(daemon=True)
        self.database = database
        self.first: dict[int, float] = {}
        self.last: dict[int, float] = {}
        self.stopping = threading.Event()
        self.started_once = False

    def sample(self) -> None:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [self.database])
            pids = [row[0] for row in cursor.fetchall()]
        for pid in pids:
            cpu = _cpu_of(pid)
            if cpu is None:
                continue
            self.first.setdefault(pid, cpu if not self.started_once else 0.0)
            self.last[pid] = cpu
        self.started_once = True

    def run(self) -> None:
        from django.db import connection

        try:
            while not self.stopping.wait(1.0):
                self.sample()
            self.sample()
        finally:
            connection.close()

    def seconds(self) -> float:
        return sum(self.last[pid] - self.first[pid] for pid in self.last)


# --------------------------------------------------------------------------- clients


class Connection:
    """One keep-alive HTTP/1.1 connection; reopened when the server closes it (sync workers always do), and
    before the server's keep-alive timeout (30 s in bench/gunicorn_clock.py) could close it under a request."""

    MAX_IDLE_S = 20.0

    def __init__(self, port: int):
        self.port = port
        self.reader = self.writer = None
        self.last_used = 0.0

    async def request(self, raw: bytes) -> tuple[int, bool, bytes]:
        if self.writer is not None and time.monotonic() - self.last_used > self.MAX_IDLE_S:
            self.close()
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        try:
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
            lower = head.lower()
            at = lower.find(b"\r\ncontent-length:")
            if at < 0:
                raise ConnectionError("response without Content-Length")
            length = int(lower[at + 17:lower.index(b"\r\n", at + 2)])
            body = await self.reader.readexactly(length) if length else b""
        except BaseException:
            self.close()
            raise
        self.last_used = time.monotonic()
        if b"\r\nconnection: close" in lower:
            self.close()
        return int(head[9:12]), b"\r\nidempotent-replayed: true" in lower, body

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


class LoadRun:
    """The clients, their schedules and every request's outcome."""

    NEW, CONCURRENT_RETRY, LATE_RETRY = "new", "concurrent_retry", "late_retry"

    def __init__(self, args, fixture: dict, port: int, start: float):
        self.args, self.port, self.start = args, port, start  # time.monotonic()
        self.end = start + args.duration
        self.fund = fixture["fund"]
        self.aps = fixture["aps"]
        # one row per request: (kind, client, key, sent, received, scheduled, status, replayed, reference, strike)
        self.rows: list[tuple] = []
        self.transport_errors: collections.Counter = collections.Counter()
        self.error_samples: dict[int, str] = {}  # the first body of each unexpected status
        self.keys_sent: set[tuple[int, str]] = set()
        self.run_id = f"{os.getpid():x}{int(time.time()) & 0xFFFFF:05x}"

    def _payload(self, rng: random.Random, ap: dict) -> bytes:
        pick = rng.randrange(100)
        for weight, side, basket_type in ORDER_MIX:
            if pick < weight:
                break
            pick -= weight
        body = {"fund": self.fund, "side": side, "creation_units": rng.randint(1, 3), "basket_type": basket_type,
                "settlement_channel": ap["channel"]}
        return json.dumps(body, separators=(",", ":")).encode()

    def _raw(self, ap: dict, key: str, body: bytes) -> bytes:
        return (
            f"POST /api/orders/ HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Token {ap['token']}\r\n"
            f"Idempotency-Key: {key}\r\nContent-Type: application/json\r\nAccept: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body

    async def _send(self, conn: Connection, kind: str, client: int, ap: dict, key: str, body: bytes, scheduled: float) -> None:
        raw = self._raw(ap, key, body)
        sent = time.monotonic()
        try:
            status, replayed, response = await conn.request(raw)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as error:
            self.transport_errors[type(error).__name__] += 1
            self.rows.append((kind, client, key, sent, time.monotonic(), scheduled, 0, False, None, None))
            return
        received = time.monotonic()
        reference = strike = None
        if status in (200, 201):
            data = json.loads(response)
            reference, strike = data.get("reference"), data.get("strike")
        elif status not in self.error_samples:
            self.error_samples[status] = response[:300].decode(errors="replace")
        self.rows.append((kind, client, key, sent, received, scheduled, status, replayed, reference, strike))

    async def client(self, client: int) -> None:
        args = self.args
        rng = random.Random(args.seed * 1000 + client)
        ap = self.aps[client % len(self.aps)]
        conn, twin = Connection(self.port), Connection(self.port)
        answered = collections.deque(maxlen=20)  # (key, body) of this client's answered new orders
        interval = args.clients / args.rate if args.rate > 0 else 0.0
        scheduled = self.start + (client / args.clients) * interval  # staggered starts
        seq = 0
        try:
            while True:
                now = time.monotonic()
                if interval:
                    if scheduled > now:
                        await asyncio.sleep(scheduled - now)
                else:
                    scheduled = now
                if scheduled >= self.end or time.monotonic() >= self.end:
                    break
                draw = rng.random()
                if draw < args.retry_fraction / 2 and answered:
                    key, body = rng.choice(answered)  # a retry after the original was answered (a client timeout)
                    self.keys_sent.add((ap["id"], key))
                    await self._send(conn, self.LATE_RETRY, client, ap, key, body, scheduled)
                else:
                    seq += 1
                    key = f"{self.run_id}-{client:03d}-{seq:06d}"
                    body = self._payload(rng, ap)
                    self.keys_sent.add((ap["id"], key))
                    if draw < args.retry_fraction:  # the retry races its original on a second connection
                        await asyncio.gather(
                            self._send(conn, self.NEW, client, ap, key, body, scheduled),
                            self._send(twin, self.CONCURRENT_RETRY, client, ap, key, body, scheduled),
                        )
                    else:
                        await self._send(conn, self.NEW, client, ap, key, body, scheduled)
                    answered.append((key, body))
                scheduled += interval
        finally:
            conn.close()
            twin.close()

    async def run(self) -> None:
        await asyncio.gather(*(self.client(i) for i in range(self.args.clients)))


# --------------------------------------------------------------------------- analysis


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = q / 100 * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def database_checks(cutoff: dt.datetime, keys_sent: int) -> dict:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*), count(DISTINCT (participant_id, idempotency_key)) FROM orders_order")
        orders, distinct_keys = cursor.fetchone()
        cursor.execute(
            "SELECT coalesce(sum(n - 1), 0) FROM (SELECT count(*) AS n FROM orders_order "
            "GROUP BY participant_id, idempotency_key HAVING count(*) > 1) AS d"
        )
        shared_key_rows = int(cursor.fetchone()[0])
        cursor.execute(
            "SELECT count(*) FILTER (WHERE received_at < %s), count(*) FILTER (WHERE received_at >= %s), "
            "count(*) FILTER (WHERE (received_at < %s AND strike <> 'INTRADAY') OR (received_at >= %s AND strike <> 'END_OF_DAY')), "
            "count(*) FILTER (WHERE status <> 'ACCEPTED'), count(*) FILTER (WHERE ap_affiliated), "
            "min(received_at), max(received_at) FROM orders_order",
            [cutoff] * 4,
        )
        before, after, wrong_side, not_accepted, affiliated, first, last = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM orders_historicalorder")
        history_rows = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM orders_orderevent")
        events = cursor.fetchone()[0]
    return {
        "orders": orders, "distinct_keys": distinct_keys, "shared_key_rows": shared_key_rows,
        "excess_orders": max(0, orders - keys_sent), "before": before, "after": after, "wrong_side": wrong_side,
        "not_accepted": not_accepted, "affiliated": affiliated, "first": first, "last": last,
        "history_rows": history_rows, "events": events,
    }


def analyse(run: LoadRun, args, to_server, cutoff_epoch: float) -> dict:
    measure_from = run.start + args.warmup
    rows = run.rows
    window = [r for r in rows if r[3] >= measure_from]
    latencies = [(r[4] - r[3]) * 1000 for r in window if r[6]]
    from_schedule = [(r[4] - r[5]) * 1000 for r in window if r[6]]
    created = [r for r in rows if r[6] == 201]
    measured_created = [r for r in created if measure_from <= r[4] <= run.end]
    measured_seconds = run.end - measure_from
    replays = [r for r in rows if r[6] == 200 and r[7]]
    errors = [r for r in rows if r[6] not in (200, 201) or (r[6] == 200 and not r[7])]
    by_status = collections.Counter("transport" if r[6] == 0 else str(r[6]) for r in errors)

    # Every key answered with one reference only (new or replay), and no key created twice.
    references: dict[str, set] = collections.defaultdict(set)  # keys embed the client number: unique per AP
    created_per_key = collections.Counter()
    for r in rows:
        if r[8]:
            references[r[2]].add(r[8])
        if r[6] == 201:
            created_per_key[r[2]] += 1
    split_keys = sum(1 for refs in references.values() if len(refs) > 1) + sum(1 for n in created_per_key.values() if n > 1)

    # Client-observed side of the cut-off: receipt lies between the request's write and the response's last byte.
    client_wrong, client_wrong_samples = 0, []
    for r in created:
        sent, received = to_server(r[3]), to_server(r[4])
        if (received < cutoff_epoch - CLIENT_MARGIN_S and r[9] != "INTRADAY") or (
            sent >= cutoff_epoch + CLIENT_MARGIN_S and r[9] != "END_OF_DAY"
        ):
            client_wrong += 1
            client_wrong_samples.append(f"{r[8]} {r[9]}: sent {sent - cutoff_epoch:+.3f} s, answered {received - cutoff_epoch:+.3f} s from 12:00:00 (server clock)")
    straddling = sum(1 for r in created if to_server(r[3]) < cutoff_epoch <= to_server(r[4]))

    # Accepted orders per 5-second bucket of the measured window (by response time).
    buckets = collections.Counter(int((r[4] - measure_from) // 5) for r in measured_created)
    n_buckets = int(measured_seconds // 5)
    bucket_rates = [buckets.get(i, 0) / 5 for i in range(n_buckets)]
    cutoff_bucket = int((cutoff_epoch - to_server(measure_from)) // 5)

    kinds = collections.Counter(r[0] for r in rows)
    return {
        "requests": len(rows),
        "requests_measured": len(window),
        "created": len(created),
        "created_measured": len(measured_created),
        "measured_seconds": measured_seconds,
        "orders_per_s": len(measured_created) / measured_seconds,
        "requests_per_s": len(window) / measured_seconds,
        "p50_ms": percentile(latencies, 50),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies) if latencies else float("nan"),
        "p99_from_schedule_ms": percentile(from_schedule, 99),
        "replays": len(replays),
        "retries": kinds[LoadRun.CONCURRENT_RETRY] + kinds[LoadRun.LATE_RETRY],
        "concurrent_retries": kinds[LoadRun.CONCURRENT_RETRY],
        "late_retries": kinds[LoadRun.LATE_RETRY],
        "errors": len(errors),
        "errors_by_status": dict(by_status),
        "rejected": sum(1 for r in rows if r[6] == 422),
        "split_keys": split_keys,
        "client_wrong_side": client_wrong,
        "client_wrong_side_samples": client_wrong_samples[:5],
        "straddling": straddling,
        "bucket_rates": bucket_rates,
        "cutoff_bucket": cutoff_bucket,
    }


def sample_errors(run: LoadRun) -> list[str]:
    """For the report: the transport failures by kind, and the first body of each unexpected status."""
    return [f"{name} x{count}" for name, count in run.transport_errors.items()] + [
        f"HTTP {status}: {body}" for status, body in sorted(run.error_samples.items())
    ]


# --------------------------------------------------------------------------- profile (--profile)


def profile_in_process(args, fixture: dict, cutoff: dt.datetime, path: str, n: int = 500) -> None:
    """The POST path in one process, on the server's shifted clock: cProfile and the queries of one order."""
    import cProfile
    import pstats

    import time_machine
    from django.db import connection
    from django.test import Client

    from nav_strikes import QueryCounter

    # As on the server: one persistent connection (the setup's CONN_MAX_AGE 0 would reconnect per request).
    connection.settings_dict["CONN_MAX_AGE"] = 60
    connection.close()
    clients = [Client(HTTP_AUTHORIZATION=f"Token {ap['token']}") for ap in fixture["aps"]]
    rng = random.Random(args.seed)
    load = LoadRun(args, fixture, 0, 0.0)

    def post(i: int):
        ap_index = i % len(clients)
        body = load._payload(rng, fixture["aps"][ap_index])
        response = clients[ap_index].post("/api/orders/", body, content_type="application/json", HTTP_IDEMPOTENCY_KEY=f"profile-{i}")
        assert response.status_code == 201, (response.status_code, response.content[:300])

    with time_machine.travel(cutoff - dt.timedelta(seconds=90), tick=True):
        for i in range(50):  # warm: URL resolvers, the NYSE calendar, serializers
            post(-1 - i)
        captured = []
        with connection.execute_wrapper(lambda execute, sql, params, many, context: captured.append(sql) or execute(sql, params, many, context)):
            post(-1000)
        t0, c0 = time.perf_counter(), time.process_time()
        for i in range(n):
            post(100_000 + i)
        plain_wall, plain_cpu = time.perf_counter() - t0, time.process_time() - c0
        counter = QueryCounter()
        profiler = cProfile.Profile(time.process_time)  # CPU time: waits on PostgreSQL are not what the cores spend
        with connection.execute_wrapper(counter):
            t0, c0 = time.perf_counter(), time.process_time()
            profiler.enable()
            for i in range(n):
                post(i)
            profiler.disable()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    profiler.dump_stats(path)
    print(f"\n==== one POST /api/orders/: {len(captured)} queries ====", file=sys.stderr)
    for sql in captured:
        print(f"  {sql[:260]}", file=sys.stderr)
    for order in ("cumulative", "tottime"):
        print(f"\n==== cProfile of {n} POSTs, by {order} ====", file=sys.stderr)
        pstats.Stats(path, stream=sys.stderr).sort_stats(order).print_stats(40)
    print(f"{n} POSTs in one process: {plain_wall * 1000 / n:.2f} ms wall, {plain_cpu * 1000 / n:.2f} ms CPU per order", file=sys.stderr)
    print(f"{n} POSTs in one process (profiler on): {wall * 1000 / n:.2f} ms wall, {cpu * 1000 / n:.2f} ms CPU per order, "
          f"{counter.count / n:.1f} queries per order ({counter.seconds * 1000 / n:.2f} ms in them)", file=sys.stderr)


# --------------------------------------------------------------------------- main


def _load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def run(args, database: ThrowawayDatabase) -> dict:
    started = time.perf_counter()
    config = database.create()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from backoffice.audit import system_user
    from funds import business_calendar

    call_command("migrate", verbosity=0, interactive=False)
    migrated = time.perf_counter()
    trade_date = dt.date.fromisoformat(args.trade_date)
    if not business_calendar.is_business_day(trade_date):
        raise SystemExit(f"{trade_date} is not an NYSE business day")
    actor = system_user()
    fixture = build_fixture(args, trade_date, actor)
    setup_done = time.perf_counter()

    cutoff = business_calendar.intraday_strike_at(trade_date)  # 12:00 ET, the Fund's default Intra-Day strike
    cutoff_epoch = cutoff.timestamp()
    if args.profile:
        profile_in_process(args, fixture, cutoff, args.profile)
        return {}
    port = args.port or free_port()
    boot_allowance = 12.0  # the server boots, and every worker answers once, before its clock reaches the load's start
    anchor = time.monotonic() + boot_allowance  # the load starts then (the monotonic clock is machine-wide)
    clock_target = cutoff_epoch - args.lead  # the server's time (epoch seconds) at the anchor

    def to_server(monotonic: float) -> float:
        """The server's shifted clock (epoch seconds) at a reading of the monotonic clock; see bench/gunicorn_clock.py."""
        return clock_target + (monotonic - anchor)

    db_url = (f"postgres://{config.get('USER') or 'postgres'}{':' + config['PASSWORD'] if config.get('PASSWORD') else ''}"
              f"@{config.get('HOST') or '127.0.0.1'}:{config.get('PORT') or 5432}/{config['NAME']}")
    connection.close()
    server = Server(args, db_url, port, clock_target, anchor)
    try:
        server.wait_ready(fixture["aps"][0]["token"], args.workers)
        ready_at = time.monotonic()
        if ready_at > anchor:
            raise SystemExit(f"gunicorn took {ready_at - anchor + boot_allowance:.1f} s to boot; the load would start late")
        gc.collect()
        gc.freeze()  # the fixture's objects are never collected again: less client CPU during the load
        connection.close()
        postgres_cpu = PostgresCpu(config["NAME"])
        time.sleep(max(0.0, anchor - time.monotonic()))
        start = anchor
        workers = server.worker_pids()
        postgres_cpu.sample()
        cpu_before = (time.process_time(), cpu_seconds([server.process.pid, *workers]), machine_cpu())
        postgres_cpu.start()
        load = LoadRun(args, fixture, port, start)
        asyncio.run(load.run())
        load_seconds = time.monotonic() - start
        workers_after = server.worker_pids()
        cpu_after = (time.process_time(), cpu_seconds([server.process.pid, *workers_after]), machine_cpu())
        postgres_cpu.stopping.set()
        postgres_cpu.join()
        connection.close()
    finally:
        server.stop()
    gc.unfreeze()

    result = analyse(load, args, to_server, cutoff_epoch)
    checks = database_checks(cutoff, len(load.keys_sent))
    duplicates = checks["shared_key_rows"] + checks["excess_orders"] + result["split_keys"]
    wrong_side = checks["wrong_side"] + result["client_wrong_side"]
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        pg_version = cursor.fetchone()[0].split(" ")[0]
    busy = cpu_after[2][0] - cpu_before[2][0]
    total = cpu_after[2][1] - cpu_before[2][1]
    postgres_s = postgres_cpu.seconds()
    et = business_calendar.NEW_YORK
    clock_start = dt.datetime.fromtimestamp(to_server(start), tz=et)
    clock_end = dt.datetime.fromtimestamp(to_server(start + args.duration), tz=et)

    return {
        "orders_per_s": round(result["orders_per_s"], 1),
        "p50_ms": round(result["p50_ms"], 1),
        "p99_ms": round(result["p99_ms"], 1),
        "duplicates": duplicates,
        "wrong_side_of_cutoff": wrong_side,
        "errors": result["errors"],
        "accepted": result["created"],
        "accepted_measured": result["created_measured"],
        "rejected": result["rejected"],
        "replays": result["replays"],
        "retries": result["retries"],
        "concurrent_retries": result["concurrent_retries"],
        "late_retries": result["late_retries"],
        "requests": result["requests"],
        "requests_per_s": round(result["requests_per_s"], 1),
        "p90_ms": round(result["p90_ms"], 1),
        "max_ms": round(result["max_ms"], 1),
        "p99_from_schedule_ms": round(result["p99_from_schedule_ms"], 1),
        "min_5s_orders_per_s": round(min(result["bucket_rates"]), 1) if result["bucket_rates"] else None,
        "max_5s_orders_per_s": round(max(result["bucket_rates"]), 1) if result["bucket_rates"] else None,
        "bucket_rates": [round(x, 1) for x in result["bucket_rates"]],
        "cutoff_bucket": result["cutoff_bucket"],
        "errors_by_status": result["errors_by_status"],
        "error_samples": sample_errors(load),
        "orders_in_db": checks["orders"],
        "orders_before_cutoff": checks["before"],
        "orders_after_cutoff": checks["after"],
        "db_wrong_side": checks["wrong_side"],
        "client_wrong_side": result["client_wrong_side"],
        "client_wrong_side_samples": result["client_wrong_side_samples"],
        "straddling_requests": result["straddling"],
        "db_shared_key_rows": checks["shared_key_rows"],
        "db_excess_orders": checks["excess_orders"],
        "split_keys": result["split_keys"],
        "keys_sent": len(load.keys_sent),
        "not_accepted_in_db": checks["not_accepted"],
        "affiliated_orders": checks["affiliated"],
        "history_rows": checks["history_rows"],
        "order_events": checks["events"],
        "first_received": checks["first"].astimezone(et).strftime("%H:%M:%S.%f")[:-3] if checks["first"] else None,
        "last_received": checks["last"].astimezone(et).strftime("%H:%M:%S.%f")[:-3] if checks["last"] else None,
        "server_clock": f"{clock_start:%Y-%m-%d %H:%M:%S} to {clock_end:%H:%M:%S} ET",
        "cutoff": f"{cutoff.astimezone(et):%Y-%m-%d %H:%M:%S} ET",
        "duration_s": round(load_seconds, 1),
        "warmup_s": args.warmup,
        "measured_s": round(result["measured_seconds"], 1),
        "lead_s": args.lead,
        "clients": args.clients,
        "aps": len(fixture["aps"]),
        "rate": args.rate or "closed loop",
        "retry_fraction": args.retry_fraction,
        "server": f"gunicorn {args.worker_class}" + (f" x{args.threads} threads" if args.worker_class == "gthread" else ""),
        "workers": args.workers,
        "worker_class": args.worker_class,
        "threads": args.threads,
        "cpu_client_s": round(cpu_after[0] - cpu_before[0], 1),
        "cpu_gunicorn_s": round(cpu_after[1] - cpu_before[1], 1),
        "cpu_postgres_s": round(postgres_s, 1),
        "machine_busy_pct": round(100 * busy / total, 1) if total else None,
        "cpu_ms_per_order_server": round(1000 * (cpu_after[1] - cpu_before[1]) / max(result["created"], 1), 2),
        "cpu_ms_per_order_postgres": round(1000 * postgres_s / max(result["created"], 1), 2),
        "database": f"postgresql {pg_version}",
        "database_name": config["NAME"],
        "migrate_s": round(migrated - started, 1),
        "setup_s": round(setup_done - migrated, 1),
        "peak_rss_client_mb": peak_rss_mb(),
        "targets_met": bool(result["orders_per_s"] >= TARGET_ORDERS_PER_S and result["p99_ms"] < TARGET_P99_MS
                            and duplicates == 0 and wrong_side == 0 and result["errors"] == 0),
        "cpus": os.cpu_count(),
        "load_average": _load_average(),
        "python": sys.version.split()[0],
    }


def print_table(r: dict) -> None:
    def mark(ok: bool) -> str:
        return "met" if ok else "MISSED"

    rows = [
        ("database", f"{r['database']} (throwaway: {r['database_name']}, dropped)"),
        ("server", f"{r['server']}, {r['workers']} workers, DEBUG=0, CONN_MAX_AGE 60"),
        ("clients", f"{r['clients']} asyncio keep-alive clients, {r['aps']} APs, offered rate {r['rate']}"
                    + (" requests/s (open loop)" if r["rate"] != "closed loop" else "")),
        ("server clock", f"{r['server_clock']} (cut-off {r['cutoff']}, {r['lead_s']:.0f} s into the load)"),
        ("load", f"{r['duration_s']:.1f} s; first {r['warmup_s']:.0f} s are warm-up, {r['measured_s']:.0f} s measured"),
        ("accepted orders/s", f"{r['orders_per_s']:,.1f} (target >= {TARGET_ORDERS_PER_S:.0f}: {mark(r['orders_per_s'] >= TARGET_ORDERS_PER_S)}); "
                              f"5-s buckets {r['min_5s_orders_per_s']}-{r['max_5s_orders_per_s']}"),
        ("latency p50 / p90 / p99 / max", f"{r['p50_ms']:.1f} / {r['p90_ms']:.1f} / {r['p99_ms']:.1f} / {r['max_ms']:.1f} ms "
                                          f"(p99 target < {TARGET_P99_MS:.0f}: {mark(r['p99_ms'] < TARGET_P99_MS)})"),
        ("  p99 from scheduled send", f"{r['p99_from_schedule_ms']:.1f} ms"),
        ("requests", f"{r['requests']:,} ({r['requests_per_s']:,.1f}/s measured): {r['accepted']:,} accepted (201), "
                     f"{r['replays']:,} replays (200), {r['rejected']} rejected (422)"),
        ("retries (same key + payload)", f"{r['retries']:,}: {r['concurrent_retries']:,} racing the original, {r['late_retries']:,} after it"),
        ("duplicates", f"{r['duplicates']} (DB rows sharing a key {r['db_shared_key_rows']}, orders beyond {r['keys_sent']:,} keys sent "
                       f"{r['db_excess_orders']}, keys with two references {r['split_keys']})"),
        ("orders in the database", f"{r['orders_in_db']:,}: {r['orders_before_cutoff']:,} before 12:00:00 ET, {r['orders_after_cutoff']:,} at/after; "
                                   f"first {r['first_received']}, last {r['last_received']} ET; {r['not_accepted_in_db']} not ACCEPTED; "
                                   f"{r['affiliated_orders']:,} affiliated"),
        ("wrong side of cut-off", f"{r['wrong_side_of_cutoff']} (DB received_at vs strike {r['db_wrong_side']}, client-observed "
                                  f"{r['client_wrong_side']}; {r['straddling_requests']} requests in flight at 12:00:00)"),
        ("audit rows", f"{r['history_rows']:,} history rows, {r['order_events']:,} order events"),
        ("errors", f"{r['errors']}" + (f" {r['errors_by_status']}" if r["errors"] else "")),
        ("CPU during the load", f"gunicorn {r['cpu_gunicorn_s']:.1f} s ({r['cpu_ms_per_order_server']:.2f} ms/order), "
                                f"PostgreSQL backends {r['cpu_postgres_s']:.1f} s ({r['cpu_ms_per_order_postgres']:.2f} ms/order), "
                                f"clients {r['cpu_client_s']:.1f} s; machine {r['machine_busy_pct']}% busy"),
        ("setup (not timed)", f"migrate {r['migrate_s']:.1f} s, fixture {r['setup_s']:.1f} s"),
        ("machine", f"Python {r['python']}, {r['cpus']} CPUs, load average {r['load_average']}"),
    ]
    width = max(len(k) for k, _ in rows)
    print("Order intake under load: POST /api/orders/ across the 12:00 ET Intra-Day cut-off")
    print("-" * (width + 70))
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    print("-" * (width + 70))
    rates = r["bucket_rates"]
    if rates:
        print("accepted/s per 5 s of the measured window (| marks the bucket holding 12:00:00 ET):")
        print("  " + " ".join(f"{'|' if i == r['cutoff_bucket'] else ''}{x:.0f}" for i, x in enumerate(rates)))
    for sample in r["error_samples"]:
        print(f"error: {sample}")
    for sample in r["client_wrong_side_samples"]:
        print(f"wrong side (client-observed): {sample}")


def main() -> int:
    args = parse_args()
    # The benchmark process itself (setup, checks) also runs with DEBUG off.
    os.environ["DEBUG"] = "0"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    database = ThrowawayDatabase("postgres", prefix="bench_orders")
    try:
        result = run(args, database)
    finally:
        database.drop()
    if args.profile:
        return 0
    print_table(result)
    compact = {k: v for k, v in result.items() if k not in ("bucket_rates", "error_samples", "client_wrong_side_samples")}
    print(json.dumps(compact, sort_keys=False, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
