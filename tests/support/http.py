"""An HTTP client for a running aTES (the Procfile's gunicorn, on loopback), standard
library only: `Client`, one browser with its own cookies, that signs in through the form as
a seeded popug; `free_port` for a server to bind. Used by the tests that start the
deployment (tests/test_procfile.py, tests/auth/test_rate_limits.py) and by the benchmarks
(bench/load.py and the others import it from here).
"""

from __future__ import annotations

import http.client
import re
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlencode

from tests.support.seeding import BENCH_BEAK

HOST = "127.0.0.1"
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


@dataclass
class Sample:
    label: str
    status: int  # 0: the connection failed
    seconds: float


class Client:
    """One browser: its own cookies (sent over plain HTTP, as a TLS proxy would), one
    connection per request (gunicorn's sync workers close after each response)."""

    def __init__(self, port: int, samples: list[Sample], lock: threading.Lock):
        self.port = port
        self.cookies: dict[str, str] = {}
        self.samples = samples
        self.lock = lock
        self.csrf = ""
        self.done_paths: list[str] = []
        self.location = ""  # the Location header of the last response, if any
        self.etag = ""  # and its ETag (bench/live.py)

    def request(
        self,
        label: str | None,
        method: str,
        path: str,
        form: dict | None = None,
        headers: dict | None = None,
    ) -> tuple[int, str]:
        all_headers = {"Host": f"{HOST}:{self.port}", **(headers or {})}
        if self.cookies:
            all_headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            all_headers["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        status, text = 0, ""
        self.location = ""
        try:
            conn = http.client.HTTPConnection(HOST, self.port, timeout=120)
            try:
                conn.request(method, path, body=body, headers=all_headers)
                response = conn.getresponse()
                text = response.read().decode("utf-8", "replace")
                status = response.status
                self.location = response.getheader("Location") or ""
                self.etag = response.getheader("ETag") or ""
                for cookie in response.headers.get_all("Set-Cookie") or []:
                    name, _, rest = cookie.partition("=")
                    value = rest.split(";", 1)[0]
                    if value and "max-age=0" not in cookie.lower():
                        self.cookies[name.strip()] = value
                    else:
                        self.cookies.pop(name.strip(), None)
            finally:
                conn.close()
        except OSError:
            status = 0
        seconds = time.perf_counter() - started
        if label:
            with self.lock:
                self.samples.append(Sample(label, status, seconds))
        if status == 200:
            token = CSRF_RE.search(text)
            if token:
                self.csrf = token.group(1)
        return status, text

    def sign_in(self, username: str) -> bool:
        self.request(None, "GET", "/sign-in")
        status, _ = self.request(
            None,
            "POST",
            "/sign-in",
            {"csrf_token": self.csrf, "username": username, "beak_shape": BENCH_BEAK},
        )
        if status not in (302, 303):
            return False
        status, _ = self.request(None, "GET", "/")  # the CSRF token of the signed-in session
        return status == 200


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]
