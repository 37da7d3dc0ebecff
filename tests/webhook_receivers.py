"""Real HTTP webhook receivers for the dissemination tests: ThreadingHTTPServer on 127.0.0.1, random ports."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    """Answers ``answers`` in turn (then 200 for ever) and records every request and what it answered."""

    answers: list[int] = field(default_factory=list)
    delay: float = 0.0  # seconds before answering (to overlap concurrent senders)
    received: list[Received] = field(default_factory=list)

    def __post_init__(self):
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                time.sleep(receiver.delay)
                with receiver._lock:
                    status = receiver.answers.pop(0) if receiver.answers else 200
                    receiver.received.append(Received(dict(self.headers.items()), body, status))
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "https://example.com/elsewhere")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"no")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/etf-webhook"

    @property
    def accepted(self) -> int:
        """How many 2xx answers this receiver gave: the accepted deliveries."""
        return sum(1 for r in self.received if 200 <= r.answered < 300)

    def for_sequence(self, sequence: int) -> list[Received]:
        return [r for r in self.received if r.headers.get("X-ETF-Publication") == str(sequence)]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def signature_valid(received: Received, secret: str) -> bool:
    """What an AP's receiver does: recompute v1 with its own secret over "<t>." + body."""
    parts = dict(item.split("=", 1) for item in received.headers["X-ETF-Signature"].split(","))
    expected = hmac.new(secret.encode("ascii"), parts["t"].encode("ascii") + b"." + received.body, hashlib.sha256).hexdigest()
    return parts["t"] == received.headers["X-ETF-Release-At"] and hmac.compare_digest(expected, parts["v1"])


@pytest.fixture
def receivers():
    started: list[Receiver] = []

    def start(*answers: int, delay: float = 0.0) -> Receiver:
        receiver = Receiver(answers=list(answers), delay=delay)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.close()
