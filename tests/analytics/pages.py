"""Reading the dashboard's HTML in tests: table rows as text, SVG bars as numbers."""

import re
from html.parser import HTMLParser


class _Tables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = None
        self._row = None
        self._cell = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("id"):
            self._table = self.tables.setdefault(attrs["id"], [])
        elif tag == "tr" and self._table is not None:
            self._row = []
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag == "tr" and self._row is not None:
            self._table.append(self._row)
            self._row = None
        elif tag in ("td", "th") and self._cell is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def table_rows(html: str, table_id: str) -> list[list[str]]:
    """The rows (header row included) of <table id=table_id>, each a list of cell texts."""
    parser = _Tables()
    parser.feed(html)
    assert table_id in parser.tables, f"no table #{table_id}"
    return parser.tables[table_id]


def body_rows(html: str, table_id: str) -> list[list[str]]:
    return table_rows(html, table_id)[1:]


_RECT = re.compile(
    r'<rect class="(?P<css>bar|bar-neg)" x="(?P<x>[-\d.]+)" y="(?P<y>[-\d.]+)" '
    r'width="(?P<width>[-\d.]+)" height="(?P<height>[-\d.]+)"><title>(?P<title>[^<]*)</title>'
)


def svg(html: str, chart_id: str) -> str:
    start = html.index(f'<svg class="chart" id="{chart_id}"')
    return html[start : html.index("</svg>", start)]


def bars(html: str, chart_id: str) -> list[dict]:
    """Each bar of a chart: css class, geometry (floats) and its tooltip text."""
    found = []
    for match in _RECT.finditer(svg(html, chart_id)):
        bar = match.groupdict()
        for key in ("x", "y", "width", "height"):
            bar[key] = float(bar[key])
        found.append(bar)
    return found


def axis_y(html: str, chart_id: str) -> float:
    match = re.search(r'<line class="axis" x1="[\d.]+" y1="([\d.]+)"', svg(html, chart_id))
    return float(match.group(1))


def field_error(html: str, field_id: str) -> str | None:
    match = re.search(rf'<p class="error" id="{field_id}-error">([^<]*)</p>', html)
    return match.group(1) if match else None
