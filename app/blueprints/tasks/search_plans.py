"""The board's search, each database its own way, side by side: which plan serves a search
(`plan_for`), its words in each database's query syntax (`words_query`), and each plan's
statement (`newest_first`): PostgreSQL's "pg-window", "pg-hits" and "pg-one" (a GIN index
of the titles' words) beside SQLite's "fts-newest", "fts-probe" and "fts-ids" (an FTS5
table). tasks.queries pages and filters what they return.
"""

from sqlalchemy import bindparam, column, exists, func, literal_column, or_, select, table

from .models import TASK_TEXTS, TASKS, TITLE_WORDS, Task

# --- PostgreSQL -------------------------------------------------------------------------

PG_TITLE_HAS_WORDS = func.to_tsvector(literal_column("'simple'"), TASK_TEXTS.c.title).op("@@")(
    func.to_tsquery(literal_column("'simple'"), bindparam("words"))
)
# PostgreSQL: how many of the newest tasks a search of words reads first, backwards by id;
# and the most it reads so, when the words are common but the page deeper than the first
# window (rarer words are read from the index of words, every match sorted).
SEARCH_WINDOW = 2_000
SEARCH_WINDOW_MAX = 200_000


# --- SQLite -----------------------------------------------------------------------------

_WORDS_INDEX = table(TITLE_WORDS, column("rowid"))
_MATCHES = literal_column(TITLE_WORDS).op("MATCH")(bindparam("words"))


# --- both -------------------------------------------------------------------------------

PREFIX_MIN = 2  # letters of the last word before it is searched as a prefix


def words_query(words: tuple[str, ...], postgres: bool) -> str:
    """Every word whole, but the last, typed so far, as a prefix once it has PREFIX_MIN
    letters (a one-letter prefix matches nearly every title: each is an index lookup
    instead), in each database's own query syntax (the words are letters and digits only:
    nothing in them can be read as syntax)."""
    if not words:
        return ""
    prefix = len(words[-1]) >= PREFIX_MIN
    if postgres:
        terms = [*words[:-1], f"{words[-1]}:*" if prefix else words[-1]]
        return " & ".join(terms)
    terms = [f'"{word}"' for word in words]
    if prefix:
        terms[-1] += "*"
    return " ".join(terms)


def plan_for(filter_: str, search, postgres: bool) -> str | None:
    """Which statement serves a search (a tasks.queries.Search): each runs from the index
    that finds its rows soonest, newest first, so a page stops after its rows
    (docs/performance.md, "Figures behind rules").

    - "pg-window" then "pg-hits" (PostgreSQL, words): the newest SEARCH_WINDOW tasks by
      primary key, which fill a page when the words are common; else every match from the
      GIN index (a MATERIALIZED CTE), sorted. In one statement the planner, misled by the
      LIMIT, walked the primary key to the end for a rare word.
    - "pg-one" (PostgreSQL, "Mine" or a Jira ID): one statement, which the popug's own
      tasks or the Jira index drive;
    - "fts-newest" (SQLite, words): the FTS5 index yields its rows newest first, the filter
      checked on the way; "fts-probe" ("Mine"): the popug's own tasks, each probed in it;
      "fts-ids" (a Jira ID and its words): the few ids of both indexes, then their rows.
    """
    if postgres:
        return "pg-one" if search.jira_id or filter_ == "mine" else "pg-window"
    if search.jira_id:
        return "fts-ids"
    return "fts-probe" if filter_ == "mine" else "fts-newest"


def newest_first(plan: str | None, rows, jira_id: bool = False):
    """The SELECT of `rows()` (a function making the rows' SELECT) that serves `plan`,
    newest first; with no plan, every task. `jira_id`: the search has a Jira ID besides
    its words."""
    newest_first = rows().order_by(Task.id.desc())
    if plan == "pg-window":
        newest_first = newest_first.where(PG_TITLE_HAS_WORDS, Task.id > bindparam("window_start"))
    elif plan == "pg-hits":
        hits = (
            select(TASK_TEXTS.c.task_id)
            .where(PG_TITLE_HAS_WORDS)
            .cte("hits")
            .prefix_with("MATERIALIZED")
        )
        # Ordered by an expression, not by the key: the planner, estimating thousands of
        # hits, would otherwise walk the primary key backwards probing each task.
        newest_first = (
            rows().order_by((Task.id + 0).desc()).where(Task.id.in_(select(hits.c.task_id)))
        )
    elif plan == "pg-one":
        jira = TASK_TEXTS.c.jira_id == bindparam("jira_id")
        newest_first = newest_first.where(
            or_(PG_TITLE_HAS_WORDS, jira) if jira_id else PG_TITLE_HAS_WORDS
        )
    elif plan == "fts-ids":
        ids = select(TASK_TEXTS.c.task_id).where(TASK_TEXTS.c.jira_id == bindparam("jira_id"))
        ids = ids.union_all(select(_WORDS_INDEX.c.rowid).where(_MATCHES))
        newest_first = newest_first.where(TASKS.c.id.in_(ids))
    elif plan == "fts-probe":
        probe = select(literal_column("1")).where(_MATCHES, _WORDS_INDEX.c.rowid == TASKS.c.id)
        newest_first = newest_first.where(exists(probe.select_from(_WORDS_INDEX)))
    elif plan == "fts-newest":
        newest_first = (
            rows()
            .select_from(_WORDS_INDEX.join(Task, Task.id == _WORDS_INDEX.c.rowid))
            .where(_MATCHES)
            .order_by(_WORDS_INDEX.c.rowid.desc())
        )
    return newest_first


def hit_ids(jira_id: bool, postgres: bool):
    """SELECT of the ids of the tasks a search matches: by the words' index, and the Jira
    ID's if the search has one."""
    if postgres:
        ids = select(TASK_TEXTS.c.task_id).where(PG_TITLE_HAS_WORDS)
    else:
        ids = select(_WORDS_INDEX.c.rowid).where(_MATCHES)
    if jira_id:
        ids = ids.union_all(
            select(TASK_TEXTS.c.task_id).where(TASK_TEXTS.c.jira_id == bindparam("jira_id"))
        )
    return ids


def sorted_search(rows, order_by, jira_id: bool, postgres: bool, few: bool):
    """A search in an order, `order_by(key_expression=…)` its ORDER BY (see queries'
    SORTED_SEARCH_HITS): `few` matches sorted (a MATERIALIZED
    CTE on PostgreSQL, ordered by expressions so that the planner sorts them rather than
    walk an index probing each); else the order's index walked with the words as a filter."""
    if few:
        hits = hit_ids(jira_id, postgres).cte("hits")
        hits = hits.prefix_with("MATERIALIZED", dialect="postgresql")
        return rows().where(Task.id.in_(select(hits.c[0]))).order_by(*order_by(key_expression=True))
    if postgres:
        matches = PG_TITLE_HAS_WORDS
        if jira_id:
            matches = or_(matches, TASK_TEXTS.c.jira_id == bindparam("jira_id"))
    else:
        probe = select(literal_column("1")).where(_MATCHES, _WORDS_INDEX.c.rowid == TASKS.c.id)
        matches = exists(probe.select_from(_WORDS_INDEX))
        if jira_id:
            matches = or_(matches, TASK_TEXTS.c.jira_id == bindparam("jira_id"))
    return rows().where(matches).order_by(*order_by())
