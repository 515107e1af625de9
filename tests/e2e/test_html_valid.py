"""The Nu Html Checker (vnu-jar, pinned in package.json) finds no error in the HTML of any page
each role can reach (the tour), in English and in Russian, nor in the htmx fragments those
pages ask for (every `data-hx-get`), the confirmation pages and the error page.

The HTML is the server's own answer, fetched with the browser's session cookie. A fragment
is checked inside a minimal document (the page it is swapped into). Every document goes to
one run of the checker: the JVM takes seconds to start.
"""

import json
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest

from tests.e2e.ui import SHUFFLERS, Visitor, demo_user, tour

pytestmark = pytest.mark.e2e

ROLES = ["anonymous", "worker", "accountant", "manager", "admin"]
ACCEPT_LANGUAGE = {"en": "en-US,en;q=0.9", "ru": "ru-RU,ru;q=0.9"}
HTML_LANG = re.compile(r'<html lang="([a-z]+)"')
FRAGMENT_PAGE = (
    '<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
    "<title>htmx fragment</title></head><body>{body}</body></html>"
)
# Pages the tour does not open: what a role sees without JavaScript instead of a dialog.
CONFIRMATIONS = {"/tasks/shuffle": SHUFFLERS, "/accounting/close-day": {"accountant", "admin"}}
# Pages the tour does not open either (issue 25's controls).
BESIDE_THE_TOUR = {
    "/shuffles": SHUFFLERS,
    "/?sort=fee-high&filter=created": {"worker", "accountant", "manager", "admin"},
    "/accounting/payouts": {"accountant", "admin"},
}


class HtmxGets(HTMLParser):
    """The GET requests htmx would make from a page: (path, the id htmx sends as HX-Target)."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str]] = []

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "data-hx-get" in attributes:
            target = attributes.get("data-hx-target", "this")
            target_id = target[1:] if target.startswith("#") else attributes.get("id", "")
            self.found.append((attributes["data-hx-get"], target_id))


def htmx_gets(page: str) -> list[tuple[str, str]]:
    parser = HtmxGets()
    parser.feed(page)
    return parser.found


class Documents:
    """The documents to check, as files named by number, and what each one is."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.names: dict[str, str] = {}
        self.langs: set[str] = set()

    def add(self, name: str, text: str) -> None:
        path = self.folder / f"{len(self.names):04d}.html"
        path.write_text(text, encoding="utf-8")
        self.names[path.name] = name


def fetch(visitor: Visitor, url: str, lang: str, target: str | None = None, status=(200,)) -> str:
    """The server's HTML for `url`, as htmx asks for it when a `target` (its id, maybe "") is
    given ("" for 204 No Content, "nothing changed" to htmx)."""
    headers = {"Accept-Language": ACCEPT_LANGUAGE[lang]}
    if target is not None:
        headers["HX-Request"] = "true"
        if target:
            headers["HX-Target"] = target
    response = visitor.context.request.get(url, headers=headers, max_redirects=0)
    assert response.status in status, f"GET {url} ({lang}, target {target}): {response.status}"
    return response.text()


def collect(visitor: Visitor, role: str, lang: str, shuffle_record_path: str, docs: Documents):
    """Every page of the tour, the fragments they ask for, and the pages beside the tour."""
    base = visitor.page.url
    fragments: dict[tuple[str, str], str] = {}  # (path, target) -> the page that asks
    for where in tour(visitor, role, shuffle_record_path):
        url = visitor.page.url
        page = fetch(visitor, url, lang)
        found = HTML_LANG.search(page)
        assert found, f"{role} on {where}: no <html lang>"
        docs.langs.add(found.group(1))
        docs.add(f"{role}, {lang}: {where} ({urlsplit(url).path})", page)
        for request in htmx_gets(page):
            fragments.setdefault(request, where)
        base = url
    for (path, target), where in fragments.items():
        body = fetch(visitor, urljoin(base, path), lang, target=target, status=(200, 204))
        if not body:
            continue
        assert not body.lstrip().lower().startswith("<!doctype"), f"{path}: not a fragment"
        docs.add(
            f"{role}, {lang}: htmx fragment {path} for #{target} (from {where})",
            FRAGMENT_PAGE.format(lang=lang, body=body),
        )
    for path, roles in {**CONFIRMATIONS, **BESIDE_THE_TOUR}.items():
        if role in roles:
            docs.add(f"{role}, {lang}: {path}", fetch(visitor, urljoin(base, path), lang))
    missing = urljoin(base, "/no-such-page")
    docs.add(f"{role}, {lang}: the 404 page", fetch(visitor, missing, lang, status=(404,)))


def check(vnu: list[str], docs: Documents) -> list[str]:
    """The checker's errors, one line each, named by the document they are in."""
    files = sorted(str(path) for path in docs.folder.glob("*.html"))
    run = subprocess.run(
        [*vnu, "--errors-only", "--format", "json", "--stdout", *files],
        capture_output=True,
        text=True,
        timeout=600,
    )
    try:
        messages = json.loads(run.stdout)["messages"]
    except (ValueError, KeyError):
        pytest.fail(f"the checker did not answer in JSON ({run.returncode}):\n{run.stderr}")
    errors = []
    for message in messages:
        name = docs.names.get(Path(urlsplit(message.get("url", "")).path).name, "?")
        line = message.get("lastLine", "?")
        extract = message.get("extract", "").replace("\n", " ").strip()
        errors.append(f"{name}, line {line}: {message['message']}\n    {extract[:160]}")
    assert errors or run.returncode == 0, f"the checker failed:\n{run.stderr}"
    return errors


def test_every_page_and_fragment_is_valid_html(
    vnu, visit, demo_roles, shuffle_record_path, tmp_path
):
    docs = Documents(tmp_path)
    for lang in ("en", "ru"):
        for role in ROLES:
            locale = {"locale": "ru-RU"} if lang == "ru" else {}
            visitor = visit(js=False, as_popug=demo_user(demo_roles, role), **locale)
            visitor.allowed_statuses.add(404)
            collect(visitor, role, lang, shuffle_record_path, docs)
    assert docs.langs == {"en", "ru"}, f"pages in {docs.langs}, not in both languages"
    assert len(docs.names) >= 60, f"only {len(docs.names)} documents: the tour came short"
    errors = check(vnu, docs)
    assert not errors, (
        f"the Nu Html Checker found {len(errors)} errors in {len(docs.names)} documents:\n"
        + "\n".join(errors)
    )
