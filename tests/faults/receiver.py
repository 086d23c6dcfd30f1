"""A real webhook receiver for the fault suite: checks each request's signature and records
its X-Closedloop-Delivery id, so duplicates (the same id twice) can be counted."""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

DELIVERY_HEADER = "X-Closedloop-Delivery"
SIGNATURE_HEADER = "X-Closedloop-Signature"


@dataclass(frozen=True)
class Received:
    delivery_id: str
    reason: str
    incident_id: str
    ref: str
    entity: str


class Receiver:
    """Answers 200 to every correctly signed POST; `on_receive` sees each first arrival."""

    def __init__(self, secret: str, on_receive: Callable[[Received], None] | None = None) -> None:
        self.secret = secret.encode()
        self.on_receive = on_receive
        self.lock = threading.Lock()
        self.first: dict[str, Received] = {}  # delivery id → what it carried
        self.arrivals: Counter[str] = Counter()  # delivery id → how many times it came
        self.bad_signatures = 0
        # Bodies cut short: the sender died mid-request (a SIGKILLed notifier). No server would
        # act on them; they are counted apart so a signing fault is never excused as one.
        self.incomplete = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the notifier's client expects

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length)
                if len(body) < length:
                    with receiver.lock:
                        receiver.incomplete += 1
                    self.close_connection = True
                    return
                receiver.record(body, self.headers.get(DELIVERY_HEADER, ""),
                                self.headers.get(SIGNATURE_HEADER, ""))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256  # the notifier sends many at once

        self.server = Server(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def record(self, body: bytes, delivery_id: str, signature: str) -> None:
        expected = "sha256=" + hmac.new(self.secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            with self.lock:
                self.bad_signatures += 1
            return
        document = json.loads(body)
        incident = document["incident"]
        self.count(Received(delivery_id, document["reason"], incident["incident_id"],
                            incident["ref"], incident["entity"]))

    def count(self, received: Received) -> None:
        delivery_id = received.delivery_id
        with self.lock:
            self.arrivals[delivery_id] += 1
            first = delivery_id not in self.first
            if first:
                self.first[delivery_id] = received
        if first and self.on_receive is not None:
            self.on_receive(received)

    def snapshot(self) -> tuple[dict[str, Received], Counter[str]]:
        with self.lock:
            return dict(self.first), Counter(self.arrivals)

    @property
    def duplicates(self) -> int:
        """Requests beyond the first for the same delivery id (at-least-once shows here)."""
        with self.lock:
            return sum(n - 1 for n in self.arrivals.values())

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
