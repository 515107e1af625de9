"""The two-hosts test's browsers: one per popug, through the balancer, each request
recorded with its answer and time, and what each popug does under load."""

from __future__ import annotations

import random
import re
import secrets
import threading
import time
from dataclasses import dataclass, field

import requests

from app.demo import DEMO_POPUGS

BEAKS = {username: beak for username, _, beak in DEMO_POPUGS}
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
DONE_RE = re.compile(r'action="/tasks/([^"/?]+)/done')
MIX = [("create", 4), ("complete", 3), ("search", 3)]


@dataclass
class Sent:
    kind: str
    status: int  # 0: no answer (the connection failed or timed out)
    started: float  # seconds since the load began
    ended: float
    failure: str = ""  # why it got no answer

    @property
    def error(self) -> bool:
        return self.status == 0 or self.status >= 500


@dataclass
class Record:
    """Everything sent and everything acknowledged, shared by the load's threads."""

    started: float = field(default_factory=time.monotonic)
    sent: list[Sent] = field(default_factory=list)
    titles_sent: set[str] = field(default_factory=set)
    titles_created: set[str] = field(default_factory=set)  # answered with a redirect
    completed: set[str] = field(default_factory=set)  # public ids answered "Done!"
    crashes: list[str] = field(default_factory=list)  # exceptions in the load's threads
    lock: threading.Lock = field(default_factory=threading.Lock)

    def now(self) -> float:
        return time.monotonic() - self.started


class Browser:
    """One popug's browser: its own cookies, the CSRF token of its session, every request
    through the balancer (TLS, its certificate trusted)."""

    def __init__(self, base: str, cert: str, record: Record, username: str):
        self.base = base
        self.http = requests.Session()
        # Per request: a session's `verify` loses to REQUESTS_CA_BUNDLE in the environment.
        self.cert = cert
        # English pages; and a Referer, as browsers send: over HTTPS the CSRF check wants one
        # from the same host.
        self.http.headers.update({"Accept-Language": "en", "Referer": self.base + "/"})
        self.record = record
        self.username = username
        self.csrf = ""
        self.failure = ""  # why the last request that got no answer got none

    def send(self, kind: str, method: str, path: str, **options) -> requests.Response | None:
        started = self.record.now()
        try:
            response = self.http.request(
                method,
                self.base + path,
                timeout=(5, 90),
                allow_redirects=False,
                verify=self.cert,
                **options,
            )
            status = response.status_code
        except requests.RequestException as error:
            response, status = None, 0
            self.failure = f"{type(error).__name__}: {error}"
        with self.record.lock:
            self.record.sent.append(
                Sent(kind, status, started, self.record.now(), self.failure if not status else "")
            )
        if response is not None and status == 200:
            token = CSRF_RE.search(response.text)
            if token:
                self.csrf = token.group(1)
        return response

    def sign_in(self) -> None:
        self.send("sign in", "GET", "/sign-in")
        beak = BEAKS[self.username]
        form = {"csrf_token": self.csrf, "username": self.username, "beak_shape": beak}
        response = self.send("sign in", "POST", "/sign-in", data=form)
        assert response is not None and response.status_code == 302, (
            f"{self.username} could not sign in: {response and response.status_code} {self.failure}"
        )
        board = self.send("board", "GET", "/")
        assert board is not None and board.status_code == 200 and self.csrf


def popug_load(browser: Browser, tag: str, seed: int, stop: threading.Event) -> None:
    """Create tasks, complete one's own, search the board, until `stop`."""
    rng = random.Random(seed)
    record = browser.record
    unanswered = None  # a creation that got an error: submitted again, the same form
    tried: set[str] = set()
    number = 0
    try:
        while not stop.is_set():
            action = "create" if unanswered else rng.choices(*zip(*MIX, strict=True))[0]
            if action == "create":
                if unanswered is None:
                    number += 1
                    title = f"{tag} {browser.username} {number}"
                    unanswered = {"title": title, "form_token": secrets.token_urlsafe(24)}
                    with record.lock:
                        record.titles_sent.add(title)
                form = unanswered | {"csrf_token": browser.csrf, "jira_id": "", "description": ""}
                response = browser.send("create", "POST", "/tasks", data=form)
                if response is None or response.status_code >= 500:
                    stop.wait(0.1)  # as a popug presses again, a moment later
                    continue
                if response.status_code == 303:
                    with record.lock:
                        record.titles_created.add(unanswered["title"])
                unanswered = None
            elif action == "complete":
                page = browser.send("my tasks", "GET", "/my-tasks")
                mine = [] if page is None else DONE_RE.findall(page.text)
                mine = [public_id for public_id in mine if public_id not in tried]
                if not mine:
                    continue
                public_id = rng.choice(mine)
                tried.add(public_id)
                response = browser.send(
                    "complete",
                    "POST",
                    f"/tasks/{public_id}/done",
                    data={"csrf_token": browser.csrf},
                    headers={"HX-Request": "true"},
                )
                if response is not None and response.status_code == 200:
                    if "paid you" in response.text:
                        with record.lock:
                            record.completed.add(public_id)
            else:
                words = [browser.username, tag, str(rng.randint(1, max(number, 1)))]
                query = {"q": rng.choice(words)}
                if rng.random() < 0.3:
                    query["filter"] = "mine"
                browser.send("search", "GET", "/", params=query)
    except Exception as error:  # noqa: BLE001 - a bug in the load itself, reported
        record.crashes.append(f"{browser.username}: {error!r}")
