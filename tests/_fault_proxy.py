"""A loopback HTTP proxy that forwards to a server and injects faults on the way.

Tests put it between an MLflow client and a real ``mlflow server`` to see what
the client does with a flaky network: HTTP 503 answers (with and without
``Retry-After``), slow answers, and connections that drop before the request
reaches the server or after the server has acted on it (the answer is lost,
so a client that retries sends the same request twice).

Faults come from a queue the test fills (:meth:`FaultProxy.inject`: the next
requests get exactly these faults) and, when that is empty, at random with
the configured probabilities from a seeded generator. Every injected fault is
counted by kind. The proxy is bounded (``max_connections`` requests in flight,
``max_faults`` faults in all), thread-safe, and :meth:`FaultProxy.stop` ends
every handler thread.
"""

from __future__ import annotations

import http.client
import random
import socket
import struct
import threading
import time
from collections import Counter, deque
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

#: What the proxy can do to a request instead of (or before) forwarding it.
UNAVAILABLE = "503"  # answer 503 without forwarding
UNAVAILABLE_RETRY_AFTER = "503+Retry-After"  # the same, with a Retry-After header
DELAY = "delay"  # wait, then forward
DROP_BEFORE = "drop before forwarding"  # reset the connection; the server never sees it
DROP_AFTER = "drop after forwarding"  # forward, then reset instead of answering
FAULTS = (UNAVAILABLE, UNAVAILABLE_RETRY_AFTER, DELAY, DROP_BEFORE, DROP_AFTER)

# Hop-by-hop headers (RFC 9110 section 7.6.1) are the proxy's own business.
_HOP_BY_HOP = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailer", "transfer-encoding", "upgrade", "proxy-connection",
}  # fmt: skip


class FaultProxy:
    """Forward HTTP requests from ``127.0.0.1:<port>`` to ``upstream``, injecting faults.

    Args:
        upstream: Base URL of the real server, e.g. ``http://127.0.0.1:5000``.
        probabilities: Chance of each fault kind (keys from :data:`FAULTS`) for a
            request with nothing queued; they must add up to at most 1.
        seed: Seed of the random generator, so a run can be replayed.
        delay: Range in seconds of the wait a ``delay`` fault adds.
        retry_after: Value of the ``Retry-After`` header, in seconds.
        max_faults: Inject no more than this many faults in all (queued ones included).
        max_connections: Requests handled at once; more wait to be accepted.
        upstream_timeout: Socket timeout towards the server, in seconds.
    """

    def __init__(
        self,
        upstream: str,
        *,
        probabilities: Mapping[str, float] | None = None,
        seed: int = 0,
        delay: tuple[float, float] = (0.5, 2.0),
        retry_after: int = 1,
        max_faults: int = 1000,
        max_connections: int = 16,
        upstream_timeout: float = 60.0,
    ) -> None:
        probabilities = dict(probabilities or {})
        unknown = set(probabilities) - set(FAULTS)
        if unknown:
            raise ValueError(f"Unknown fault kinds {sorted(unknown)}; use {FAULTS}.")
        if sum(probabilities.values()) > 1 or min(probabilities.values(), default=0) < 0:
            raise ValueError(f"Probabilities must be >= 0 and add up to <= 1: {probabilities}")
        parts = urlsplit(upstream)
        if parts.scheme != "http" or parts.hostname is None:
            raise ValueError(f"upstream must be an http:// URL, got {upstream!r}.")
        self.upstream_host = parts.hostname
        self.upstream_port = parts.port or 80
        self.probabilities = probabilities
        self.delay = delay
        self.retry_after = retry_after
        self.max_faults = max_faults
        self.upstream_timeout = upstream_timeout
        self.enabled = True
        #: Faults injected so far, by kind.
        self.faults: Counter[str] = Counter()
        #: Requests forwarded (answered by the server), and answers of 502 when it was down.
        self.forwarded = 0
        self.upstream_down = 0
        #: (request number, method, path, fault) of every injected fault, in order.
        self.log: list[tuple[int, str, str, str]] = []
        #: (start, seconds, method, path, fault or "") of every request, start on time.monotonic().
        self.timeline: list[tuple[float, float, str, str, str]] = []
        self.requests = 0
        self._queue: deque[str] = deque()
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the proxy first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        """Listen on a free loopback port and serve from a background thread."""
        self._server = _Server(("127.0.0.1", 0), _Handler, self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, name="fault-proxy"
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, cut short any delay, and wait for every handler thread to end."""
        if self._server is None:
            return
        self._stopping.set()
        self._server.shutdown()
        with self._lock:
            for connection in self._connections:  # wake handlers blocked reading a request
                with suppress(OSError):
                    connection.shutdown(socket.SHUT_RD)
        self._server.server_close()  # joins the handler threads (block_on_close)
        assert self._thread is not None
        self._thread.join()
        self._server = None

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def inject(self, *faults: str) -> None:
        """Give the next requests exactly these faults, in order (before any random ones)."""
        unknown = set(faults) - set(FAULTS)
        if unknown:
            raise ValueError(f"Unknown fault kinds {sorted(unknown)}; use {FAULTS}.")
        with self._lock:
            self._queue.extend(faults)

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Forward faithfully within this block (queued faults wait)."""
        self.enabled = False
        try:
            yield
        finally:
            self.enabled = True

    def total_faults(self) -> int:
        with self._lock:
            return sum(self.faults.values())

    def _next_fault(self, method: str, path: str) -> str | None:
        with self._lock:
            self.requests += 1
            if not self.enabled or sum(self.faults.values()) >= self.max_faults:
                return None
            if self._queue:
                fault: str | None = self._queue.popleft()
            else:
                draw, fault = self._random.random(), None
                for kind, chance in self.probabilities.items():
                    if draw < chance:
                        fault = kind
                        break
                    draw -= chance
            if fault is not None:
                self.faults[fault] += 1
                self.log.append((self.requests, method, path, fault))
            return fault

    def _delay_seconds(self) -> float:
        with self._lock:
            return self._random.uniform(*self.delay)

    def _track(self, connection: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _count(self, attribute: str) -> None:
        with self._lock:
            setattr(self, attribute, getattr(self, attribute) + 1)


class _Server(ThreadingHTTPServer):
    daemon_threads = False  # server_close() waits for every handler
    block_on_close = True

    def __init__(self, address: tuple[str, int], handler: Any, proxy: FaultProxy) -> None:
        self.proxy = proxy
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        # Back-pressure instead of unbounded threads: the accept loop waits for a slot.
        while not self.proxy._slots.acquire(timeout=0.1):
            if self.proxy._stopping.is_set():
                self.shutdown_request(request)
                return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.proxy._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.proxy._slots.release()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # a client that connects and sends nothing does not hold a thread forever
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.proxy._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.proxy._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._proxy()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_GET

    def _proxy(self) -> None:
        started = time.monotonic()
        fault = self.server.proxy._next_fault(self.command, self.path)
        try:
            self._handle(fault)
        finally:
            entry = (started, time.monotonic() - started, self.command, self.path, fault or "")
            self.server.proxy.timeline.append(entry)

    def _handle(self, fault: str | None) -> None:
        proxy = self.server.proxy
        if fault == DROP_BEFORE:
            self._reset()
            return
        body = self._read_body()
        if fault in (UNAVAILABLE, UNAVAILABLE_RETRY_AFTER):
            headers = {"Retry-After": str(proxy.retry_after)} if fault != UNAVAILABLE else {}
            self._answer(503, {"Content-Type": "text/plain", **headers}, b"injected 503\n")
            return
        if fault == DELAY and proxy._stopping.wait(proxy._delay_seconds()):
            self._reset()
            return
        try:
            status, headers, payload = self._forward(body)
        except (ConnectionError, TimeoutError, OSError, http.client.HTTPException):
            proxy._count("upstream_down")
            self._answer(502, {"Content-Type": "text/plain"}, b"upstream unreachable\n")
            return
        proxy._count("forwarded")
        if fault == DROP_AFTER:
            self._reset()
            return
        self._answer(status, headers, payload)

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _forward(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        proxy = self.server.proxy
        connection = http.client.HTTPConnection(
            proxy.upstream_host, proxy.upstream_port, timeout=proxy.upstream_timeout
        )
        try:
            headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
            headers["Content-Length"] = str(len(body))
            connection.request(self.command, self.path, body=body, headers=headers)
            response = connection.getresponse()
            payload = response.read()
            answer = {k: v for k, v in response.getheaders() if k.lower() not in _HOP_BY_HOP}
            return response.status, answer, payload
        finally:
            connection.close()

    def _answer(self, status: int, headers: Mapping[str, str], payload: bytes) -> None:
        self.send_response(status)
        for key, value in headers.items():
            if key.lower() not in ("content-length", "date", "server"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        # One request per connection: no idle keep-alive thread outlives stop().
        self.send_header("Connection", "close")
        self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    def _reset(self) -> None:
        """Close with a TCP reset, so the client sees its connection dropped mid-request."""
        self.close_connection = True
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
