"""aTES's main pages against their competent minimal Flask twins, in CPU time per request,
and creating a task through the route against a minimal twin's route (issue 27).

    python bench/pages.py [--quick] [--rounds N] [--database-url postgresql://…/NAME]
                          [--only pages,create] [--profile PAGE] [--priority -10]

Seeds 1,000 popugs and 100,000 tasks (70,000 open, 30,000 done) spread over 60 business
days, every day but the last closed (payouts, billing days, e-mails), and a page and a
half of notifications for the signed-in worker; "now" is frozen at the history's end.

The twin of each page is a separate Flask app in this process, written as a competent
Flask developer would write that page: Flask-Login whose user loader reads the popug with
its balance and unread-notification count in one statement, Flask-SQLAlchemy (aTES's own
models and query functions: the queries the page needs, already measured against lean
anchors by issues 3, 5, 6 and 15), Flask-WTF's CSRF token in every form, Flask-Babel with
aTES's catalogues, every label through gettext in the template, the formats (money, dates,
numbers) in the request's language through filters that ask Flask-Babel for the locale,
`url_for` wherever a link is made, and a Jinja layout with the same top bar (navigation by
role, name, role, balance, unread count, sign-out and language forms). It shows the same
visible content; it leaves out what is not visible (read deadlines, snapshots, session
idle clocks, htmx attributes, security headers).

Both apps are fetched with their own test client as the same signed-in popug, interleaved
(aTES, twin, next page…), for N rounds after a warm-up, in English and in Russian; each
request's CPU time (time.process_time) and wall time are kept; the report gives medians
and aTES ÷ twin. Goal: every page ≤ 1.5× its twin's CPU.

Creations (goal 4): POST /tasks as a browser sends it (the form's fields with the CSRF
token read from the board), against the twin's POST (a form with a CSRF token; one query
draws a random eligible popug; the task, its texts, its ledger entry and the balance change
in one transaction, one commit), interleaved in batches; creations per second of wall and
CPU time. Goal: the route ≥ 0.6× the twin. The ledger is checked afterwards.
"""

# ruff: noqa: E501 - the twin's templates keep a tag per line
from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import secrets
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from babel.dates import format_date, format_datetime  # noqa: E402
from babel.numbers import format_currency, format_decimal  # noqa: E402
from flask import Flask, abort, flash, redirect, render_template, request, url_for  # noqa: E402
from flask_babel import Babel, get_locale, gettext  # noqa: E402
from flask_login import LoginManager, current_user, login_required  # noqa: E402
from flask_wtf.csrf import CSRFProtect  # noqa: E402
from jinja2 import DictLoader  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from app import clock  # noqa: E402
from app.blueprints.accounting import posting
from app.blueprints.accounting import queries as accounting_queries  # noqa: E402
from app.blueprints.accounting.models import Account, LedgerEntry  # noqa: E402
from app.blueprints.analytics import report as analytics_report  # noqa: E402
from app.blueprints.auth import sessions  # noqa: E402
from app.blueprints.auth.models import Popug  # noqa: E402
from app.blueprints.notifications import queries as notification_queries  # noqa: E402
from app.blueprints.notifications.models import Notification  # noqa: E402
from app.blueprints.tasks import queries as task_queries  # noqa: E402
from app.blueprints.tasks.models import OPEN, Task  # noqa: E402
from app.extensions import db  # noqa: E402
from app.i18n import LABELS, TRANSLATIONS  # noqa: E402
from app.money import format_cents  # noqa: E402
from bench.common import (  # noqa: E402
    SEED_END,
    Population,
    assert_ledger_consistent,
    bench_config,
    describe_database,
    fresh_database,
    load,
    machine,
    markdown_table,
    quantile,
    raise_priority,
    seed,
)

FULL = {"population": Population(1_000, 70_000, 30_000, days=60, close_days=True), "rounds": 300}
QUICK = {"population": Population(200, 7_000, 3_000, days=10, close_days=True), "rounds": 5}
WARMUP = 10
CREATION_BATCHES = 30
CREATION_BATCH = 10
GOAL_PAGE = 1.5
GOAL_CREATE = 0.6
NOW = SEED_END  # "now" for both apps: the seeded history's last (open) day
NOTIFICATIONS = 45  # a page and a half of the worker's notifications (30 a page)

# --- the twin ----------------------------------------------------------------------------

LAYOUT = """<!doctype html>
<html lang="{{ get_locale().language }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{% block title %}{% endblock %} · aTES</title>
<link rel="stylesheet" href="{{ url_for('static', filename='css/ates.css') }}">
<script src="{{ url_for('static', filename='js/htmx.min.js') }}" defer></script>
</head><body>
<a class="skip-link" href="#main">{{ _("Skip to content") }}</a>
<header class="topbar"><a class="brand" href="{{ url_for('board') }}">aTES</a>
{% if current_user.is_authenticated %}{% set role = current_user.role %}
<nav class="nav" aria-label="{{ _('Main') }}">
<a href="{{ url_for('board') }}">{{ _("Tasks") }}</a>
{% if role in ('worker', 'accountant') %}<a href="{{ url_for('my_tasks') }}">{{ _("My tasks") }}</a>{% endif %}
<a href="{{ url_for('my_account') }}">{{ _("My account") }}</a>
{% if role in ('admin', 'accountant') %}<a href="{{ url_for('overview') }}">{{ _("Accounting") }}</a>{% endif %}
{% if role == 'admin' %}<a href="{{ url_for('analytics') }}">{{ _("Analytics") }}</a><a href="{{ url_for('popugs') }}">{{ _("Popugs") }}</a>{% endif %}
<a href="{{ url_for('notifications') }}">{{ _("Notifications") }}{% if current_user.unread %} <span class="badge">{{ '99+' if current_user.unread > 99 else current_user.unread|number }}<span class="visually-hidden"> {{ _("unread") }}</span></span>{% endif %}</a>
</nav>
<div class="whoami">{{ current_user.username }} <span class="badge">{{ _(current_user.role) }}</span>
<span title="{{ _('Your balance') }}">{{ current_user.balance|money_html }}</span>
<form action="/sign-out" method="post"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}"><button>{{ _("Sign out") }}</button></form>
{% set other = 'ru' if get_locale().language == 'en' else 'en' %}
<form action="/language" method="post"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}"><input type="hidden" name="next" value="{{ request.full_path }}"><button name="locale" value="{{ other }}">{{ 'Русский' if other == 'ru' else 'English' }}</button></form>
</div>{% endif %}</header>
{% for category, message in get_flashed_messages(with_categories=true) %}<div class="flash flash-{{ category }}">{{ message }}</div>{% endfor %}
<main id="main">{% block content %}{% endblock %}</main>
<dialog id="confirm-dialog"><h2>{{ _("Are you sure?") }}</h2><button>{{ _("Cancel") }}</button><button>{{ _("Confirm") }}</button></dialog>
</body></html>"""

PAGER = """{% macro pager(p, endpoint, newer=true) -%}
{% if p.has_prev or p.has_next %}<nav class="pagination">
{% if p.has_prev %}<a href="{{ url_for(endpoint, page=p.prev_num, **kwargs) }}">{{ _("← Newer") if newer else _("← Previous") }}</a>{% endif %}
<span>{% if p.pages %}{{ _("Page %(page)s of %(pages)s", page=p.page, pages=p.pages) }}{% else %}{{ _("Page %(page)s", page=p.page) }}{% endif %}</span>
{% if p.has_next %}<a href="{{ url_for(endpoint, page=p.next_num, **kwargs) }}">{{ _("Older →") if newer else _("Next →") }}</a>{% endif %}
</nav>{% endif %}
{%- endmacro %}"""

TASK_TABLE = """<table class="table"><thead><tr><th>{{ _("Jira ID") }}</th><th>{{ _("Title") }}</th>
<th>{{ pgettext("task table column", "Done") }}</th><th>{{ _("Assignee") }}</th><th>{{ _("Status") }}</th>
<th>{{ _("Fee") }}</th><th>{{ _("Reward") }}</th><th>{{ _("Created") }}</th></tr></thead><tbody>
{% for t in rows %}<tr id="task-{{ t.public_id }}"><td>{{ t.jira_id or '—' }}</td>
<td><a href="{{ url_for('task', public_id=t.public_id) }}">{{ t.title }}</a></td>
<td>{% if t.status == 'open' and t.assignee_id == current_user.id %}<form method="post" action="{{ url_for('done', public_id=t.public_id) }}"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}"><button>{{ _("Mark done") }}</button></form>{% elif t.status == 'done' %}{{ t.completed_at|local_time }}{% else %}—{% endif %}</td>
<td>{{ t.assignee_name }}{% if t.assignee_id == current_user.id %} <span class="badge">{{ _("you") }}</span>{% endif %}</td>
<td><span class="badge badge-{{ t.status }}">{{ _(t.status) }}</span></td>
<td>{{ t.fee|money }}</td><td>{{ t.reward|money }}</td><td>{{ t.created_at|local_time }}</td></tr>
{% endfor %}</tbody></table>
{% if not rows %}<p class="empty">{{ empty }}</p>{% endif %}"""

BOARD = """{% extends "layout.html" %}{% from "pager.html" import pager %}
{% block title %}{{ _("Tasks") }}{% endblock %}{% block content %}
<h1>{{ _("Tasks") }}</h1>
<section><h2>{{ _("New task") }}</h2><p>{{ _("It lands on a random worker or accountant, who is charged its fee.") }}</p>
<form method="post" action="{{ url_for('create') }}"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
<input type="hidden" name="form_token" value="{{ form_token }}">
<label>{{ _("Title") }} <input name="title" maxlength="200"></label><p>{{ _("Up to 200 characters, without [ or ].") }}</p>
<label>{{ _("Jira ID") }} <input name="jira_id"></label><p>{{ _("Optional, like UBERPOP-42.") }}</p>
<label>{{ _("Description") }} <textarea name="description"></textarea></label>
<button>{{ _("Create task") }}</button></form></section>
<section><h2>{{ _("Board") }}</h2>
<nav class="filters" aria-label="{{ _('Filter tasks') }}">{% for f, name in filters %}<a href="{{ url_for('board', filter=f, q=q or none) }}"{% if f == filter_ %} class="active"{% endif %}>{{ name }}</a>{% endfor %}</nav>
<form method="get" action="{{ url_for('board') }}"><input type="hidden" name="filter" value="{{ filter_ }}">
<label for="q">{{ _("Search") }}</label><input type="search" id="q" name="q" value="{{ q }}" placeholder="{{ _('A Jira ID or words of the title') }}"><button>{{ _("Search") }}</button></form>
{% with rows = tasks.items, empty = _("No tasks here yet. Create one with the form: it lands on a random worker or accountant.") %}{% include "task_table.html" %}{% endwith %}
{{ pager(tasks, 'board', filter=filter_, q=q or none) }}</section>
{% endblock %}"""

MY_TASKS = """{% extends "layout.html" %}{% from "pager.html" import pager %}
{% block title %}{{ _("My tasks") }}{% endblock %}{% block content %}
<h1>{{ _("My tasks") }}</h1>
<section><h2>{{ _("Open") }} ({{ open_tasks.total|number }})</h2>
{% with rows = open_tasks.items, empty = _("Nothing open for you. New tasks and shuffles may land here any time.") %}{% include "task_table.html" %}{% endwith %}
{{ pager(open_tasks, 'my_tasks') }}</section>
<section><h2>{{ _("Recently done") }}</h2>
{% with rows = done_tasks, empty = _("You have not finished a task yet. Mark one done above to earn its reward.") %}{% include "task_table.html" %}{% endwith %}</section>
{% endblock %}"""

TASK = """{% extends "layout.html" %}{% from "pager.html" import pager %}
{% block title %}{{ task.title }}{% endblock %}{% block content %}
<h1>{{ task.title }}</h1><a href="{{ url_for('board') }}">{{ _("Back to the tasks board") }}</a>
<dl><dt>{{ _("Jira ID") }}</dt><dd>{{ task.jira_id or '—' }}</dd>
<dt>{{ _("Status") }}</dt><dd>{{ _(task.status) }}</dd>
<dt>{{ _("Assignee") }}</dt><dd>{{ task.assignee_name }}{% if task.assignee_id == current_user.id %} {{ _("you") }}{% endif %}</dd>
<dt>{{ _("Creator") }}</dt><dd>{{ task.creator_name }}</dd>
<dt>{{ _("Fee") }}</dt><dd>{{ task.fee|money }}</dd><dt>{{ _("Reward") }}</dt><dd>{{ task.reward|money }}</dd>
<dt>{{ _("Created") }}</dt><dd>{{ task.created_at|local_time }}</dd>
<dt>{{ _("Completed") }}</dt><dd>{{ task.completed_at|local_time if task.completed_at else _("not yet") }}</dd></dl>
{% if task.status == 'open' and task.assignee_id == current_user.id %}<form method="post" action="{{ url_for('done', public_id=task.public_id) }}"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}"><button>{{ _("Mark done") }}</button></form>{% endif %}
<h2>{{ _("Description") }}</h2>{% if task.description %}<div>{{ task.description }}</div>{% else %}<p>{{ _("No description.") }}</p>{% endif %}
<h2>{{ _("History") }}</h2><ol>{% for line in history.items %}<li>{{ line.at|local_time }}
{% if line.what == 'created' %}{{ _("Created by %(creator)s and assigned to %(popug)s, who was charged the fee", creator=task.creator_name, popug=line.popug) }}
{% elif line.what == 'shuffled' %}{{ _("Shuffled from %(previous)s to %(popug)s, who was charged the fee", previous=line.previous, popug=line.popug) }}
{% elif line.what == 'handed over' %}{{ _("Handed over from %(previous)s (who no longer takes tasks) to %(popug)s, who was charged the fee", previous=line.previous, popug=line.popug) }}
{% else %}{{ _("Completed by %(popug)s, who was paid the reward", popug=line.popug) }}{% endif %}
{{ line.amount|money_html(signed=true) }}</li>{% else %}<p>{{ _("No history on this page.") }}</p>{% endfor %}</ol>
{{ pager(history, 'task', public_id=task.public_id) }}
{% endblock %}"""

ACCOUNT = """{% extends "layout.html" %}{% from "pager.html" import pager %}
{% block title %}{{ _("My account") }}{% endblock %}{% block content %}
<h1>{{ _("My account") }}</h1><a href="/account/tokens">{{ _("API tokens") }}</a>
<div>{{ _("Balance") }} {{ account.balance|money_html }}</div>
<div>{{ _("Earnings today (%(day)s)", day=today|day) }} {{ account.earnings_today|money_html(signed=true) }}</div>
<h2>{{ _("Audit log of %(day)s", day=day|day) }}</h2>
<form method="get" action="{{ url_for('my_account') }}"><label>{{ _("Day") }} <input type="date" name="day" value="{{ day.isoformat() }}"></label><button>{{ _("Show day") }}</button></form>
<table><thead><tr><th>{{ _("Time") }}</th><th>{{ _("Kind") }}</th><th>{{ _("Jira ID") }}</th><th>{{ _("Task") }}</th><th>{{ _("Amount") }}</th></tr></thead><tbody>
{% for e in entries.items %}{% set label = labels.get(e.task_id) %}<tr><td>{{ e.created_at|local_time }}</td><td>{{ _(kinds[e.kind]) }}</td>
<td>{{ label[0] or '—' if label else '—' }}</td>
<td>{% if label %}<a href="{{ url_for('task', public_id=label[2]) }}">{{ label[1] }}</a>{% elif lines.get(e.id) %}<details><summary>{{ ngettext("Shuffle: %(num)s task", "Shuffle: %(num)s tasks", lines[e.id]|length) }}</summary><ul>{% for task_id, amount in lines[e.id] %}{% set l = labels.get(task_id) %}<li>{% if l %}<a href="{{ url_for('task', public_id=l[2]) }}">{{ l[1] }}</a>{% endif %} {{ amount|money_html(signed=true) }}</li>{% endfor %}</ul></details>{% else %}—{% endif %}</td>
<td>{{ e.amount|money_html(signed=true) }}</td></tr>{% endfor %}</tbody></table>
{% if not entries.items %}<p>{{ _("No money moved on your account on %(day)s. Fees appear when a task lands on you, rewards when you mark one done, payouts when the day closes.", day=day|day) }}</p>{% endif %}
{{ pager(entries, 'my_account', day=day.isoformat()) }}
{% endblock %}"""

OVERVIEW = """{% extends "layout.html" %}{% from "pager.html" import pager %}
{% block title %}{{ _("Accounting") }}{% endblock %}{% block content %}
<h1>{{ _("Accounting") }}</h1>
{% if closed %}<p>{{ _("Today (%(day)s) was closed at %(at)s.", day=today|day, at=closed.closed_at|local_time) }} <a href="{{ url_for('overview') }}">{{ _("See its payouts") }}</a></p>
{% else %}<form method="get" action="/accounting/close-day"><input type="hidden" name="day" value="{{ today.isoformat() }}"><button>{{ _("Close the day") }}</button></form>{% endif %}
<div>{{ _("Management earnings today") }} {{ totals.management_earnings|money_html(signed=true) }}</div>
<div>{{ _("Fees charged today") }} {{ totals.fees|money }}</div>
<div>{{ _("Rewards paid today") }} {{ totals.rewards|money }}</div>
<div>{{ _("Popugs in the red now") }} {{ in_red|number }}</div>
<h2>{{ _("Per-day statistics") }}</h2>
<form method="get" action="{{ url_for('overview') }}"><label>{{ _("From") }} <input type="date" name="start" value="{{ start.isoformat() }}"></label><label>{{ _("To") }} <input type="date" name="end" value="{{ end.isoformat() }}"></label><button>{{ _("Show range") }}</button></form>
<table><thead><tr><th>{{ _("Day") }}</th><th>{{ _("Fees charged") }}</th><th>{{ _("Rewards paid") }}</th><th>{{ _("Management earnings") }}</th><th>{{ _("Payouts") }}</th><th>{{ _("In the red at close") }}</th></tr></thead><tbody>
{% for d in days %}<tr><th>{% if d.closed %}<a href="{{ url_for('overview', day=d.day.isoformat()) }}">{{ d.day|day }}</a>{% else %}{{ d.day|day }}{% endif %}</th><td>{{ d.fees|money }}</td><td>{{ d.rewards|money }}</td><td>{{ d.management_earnings|money_html(signed=true) }}</td><td>{{ d.payouts|money }}</td><td>{{ d.popugs_in_red|number if d.closed else '—' }}</td></tr>{% endfor %}
</tbody><tfoot><tr><th>{{ _("Total") }}</th><td>{{ fees|money }}</td><td>{{ rewards|money }}</td><td>{{ (fees - rewards)|money_html(signed=true) }}</td><td>{{ payouts|money }}</td><td></td></tr></tfoot></table>
<p>{{ _('Management earnings = fees charged − rewards paid. "In the red" counts popugs left with a negative balance when the day closed; "—" means the day is not closed.') }}</p>
<h2>{{ _("All balances") }} ({{ balances.total|number }})</h2><a href="/accounting/balances.csv">{{ _("Download CSV") }}</a>
<table><thead><tr><th><a href="{{ url_for('overview', sort='username', dir='desc') }}">{{ _("Popug") }} ↑</a></th><th>{{ _("E-mail") }}</th><th><a href="{{ url_for('overview', sort='balance', dir='asc') }}">{{ _("Balance") }}</a></th></tr></thead><tbody>
{% for row in balances.items %}<tr><td><a href="{{ url_for('overview', popug=row.owner_public_id) }}">{{ row.username }}</a></td><td>{{ row.email }}</td><td>{{ row.balance|money_html }}</td></tr>{% endfor %}</tbody></table>
{{ pager(balances, 'overview', newer=false) }}
<h2>{{ _("Payout history") }}</h2><a href="/accounting/payouts">{{ _("All closed days") }}</a>
<table><thead><tr><th>{{ _("Day") }}</th><th>{{ _("Closed at") }}</th><th>{{ _("Popugs paid") }}</th><th>{{ _("Paid out") }}</th><th>{{ _("In the red") }}</th><th>{{ _("E-mails") }}</th></tr></thead><tbody>
{% for row in closed_days %}<tr><th><a href="{{ url_for('overview', day=row.day.day.isoformat()) }}">{{ row.day.day|day }}</a></th><td>{{ row.day.closed_at|local_time }}</td><td>{{ row.day.popugs_paid|number }}</td><td>{{ row.day.payouts|money }}</td><td>{{ row.day.popugs_in_red|number }}</td>
<td>{% if row.mail_pending %}{{ ngettext("%(num)s pending", "%(num)s pending", row.mail_pending) }}{% elif row.mail_logged %}{{ _("logged, not sent") }}{% elif row.day.popugs_paid %}{{ _("all delivered") }}{% else %}{{ _("none") }}{% endif %}</td></tr>{% endfor %}</tbody></table>
<h2>{{ _("E-mail outbox") }}</h2><a href="/accounting/outbox">{{ _("Whole outbox") }}</a>
<p>{% if pending %}{{ ngettext('%(num)s pending e-mails wait to be sent; failures are retried with backoff.', '%(num)s pending e-mails wait to be sent; failures are retried with backoff.', pending) }}{% else %}{{ _("No e-mail is waiting to be sent.") }}{% endif %} {{ _("No MAIL_SERVER is set: e-mails are written to the log and kept here.") }}</p>
<table><thead><tr><th>{{ pgettext("outbox column", "Queued") }}</th><th>{{ pgettext("recipient", "To") }}</th><th>{{ _("Subject") }}</th><th>{{ _("Status") }}</th><th>{{ _("Attempts") }}</th><th>{{ _("Delivery") }}</th></tr></thead><tbody>
{% for m in outbox %}<tr><td>{{ m.created_at|local_time }}</td><td>{{ m.recipient }}</td><td><details><summary>{{ m.subject }}</summary><pre>{{ m.body }}</pre></details></td><td>{{ _(m.status) }}</td><td>{{ m.attempts }}</td><td>{{ m.sent_at|local_time if m.sent_at else '' }}</td></tr>{% endfor %}</tbody></table>
{% endblock %}"""

ANALYTICS = """{% extends "layout.html" %}
{% block title %}{{ _("Analytics") }}{% endblock %}{% block content %}
<h1>{{ _("Analytics") }}</h1><p>{{ _("Business days in %(timezone)s.", timezone=timezone) }}</p>
<div>{{ _("Management earnings today") }} {{ now.earnings|money_html }} {{ _("%(day)s: fees charged − rewards paid", day=now.day|day) }}</div>
<div>{{ _("Popugs with a negative balance") }} {{ now.popugs_in_red|number }} {{ _("right now") }}</div>
<h2>{{ _("Date range") }}</h2>
<form method="get" action="{{ url_for('analytics') }}"><label>{{ _("From") }} <input type="date" name="from" value="{{ r.first.isoformat() }}"></label><label>{{ _("To") }} <input type="date" name="to" value="{{ r.last.isoformat() }}"></label><button>{{ _("Show") }}</button></form>
<nav>{% for days in (7, 30, 90, 365) %}<a href="{{ url_for('analytics', **{'from': (today - timedelta(days=days - 1)).isoformat(), 'to': today.isoformat()}) }}">{{ ngettext("Last %(num)s days", "Last %(num)s days", days) }}</a>{% endfor %}</nav>
<p>{{ _("Up to %(num)s days. Default: the last 30 days, ending today.", num=366|number) }}</p>
<h2>{{ _("Daily management earnings") }}</h2>
<p>{{ ngettext("%(first)s – %(last)s (%(num)s days), total %(total)s. Fees charged minus rewards paid, per business day.", "%(first)s – %(last)s (%(num)s days), total %(total)s. Fees charged minus rewards paid, per business day.", r.day_count, first=r.first_label, last=r.last_label, total=r.total_earnings|money_html) }}</p>
{% for chart in (r.earnings_chart, r.rewards_chart) %}<svg viewBox="0 0 {{ chart.width }} {{ chart.height }}"><title>{{ chart.title }}</title><desc>{{ chart.description }}</desc>
{% for t in chart.y_ticks %}<text x="{{ t.x }}" y="{{ t.y }}" text-anchor="{{ t.anchor }}">{{ t.text }}</text>{% endfor %}
{% for b in chart.bars %}<rect class="{{ b.css }}" x="{{ b.x }}" y="{{ b.y }}" width="{{ b.width }}" height="{{ b.height }}"><title>{{ b.tooltip }}</title></rect>{% endfor %}
{% for t in chart.x_ticks %}<text x="{{ t.x }}" y="{{ t.y }}" text-anchor="{{ t.anchor }}">{{ t.text }}</text>{% endfor %}</svg>
{% if loop.first %}<details><summary>{{ _("The numbers behind the chart") }}</summary><table><thead><tr><th>{{ _("Day") }}</th><th>{{ _("Management earnings") }}</th></tr></thead><tbody>
{% for row in r.earnings %}<tr><th>{{ row.label }}</th><td><span class="money {{ row.money_class }}">{{ row.money }}</span></td></tr>{% endfor %}</tbody></table></details>
<h2>{{ _("Most expensive task") }}</h2><p>{{ _("The completed task with the highest reward among the tasks completed in the period. On equal rewards the earlier completion wins (then the older task). Weeks run Monday to Sunday; weeks and months at the ends of the range are counted whole.") }}</p>{% endif %}{% endfor %}
{% for heading, periods in ((_("Day"), r.days), (_("Week"), r.weeks), (_("Month"), r.months)) %}
{% if not loop.first %}<h3>{{ _("Per week") if loop.index == 2 else _("Per month") }}</h3>{% endif %}
<table><thead><tr><th>{{ heading }}</th><th>{{ _("Jira ID") }}</th><th>{{ _("Title") }}</th><th>{{ _("Completed") }}</th></tr></thead><tbody>
{% for p in periods %}{% if p.top %}<tr><th>{{ p.line }}</th><td>{{ p.top.jira_id or "—" }}</td><td><a href="{{ url_for('task', public_id=p.top.public_id) }}">{{ p.top.title }}</a></td><td>{{ p.completed }}</td></tr>{% else %}<tr><th>{{ p.line }}</th><td colspan="3">—</td></tr>{% endif %}{% endfor %}
</tbody></table>{% endfor %}
{% endblock %}"""

POPUGS = """{% extends "layout.html" %}{% from "pager.html" import pager %}
{% block title %}{{ _("Popugs") }}{% endblock %}{% block content %}
<h1>{{ _("Popugs") }}</h1><a href="/audit">{{ _("Audit trail") }}</a>
<section><h2>{{ _("New popug") }}</h2><form method="post" action="{{ url_for('popugs') }}"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
<label>{{ _("Username") }} <input name="username"></label><p>{{ _("3–32 characters: a–z, 0–9, _ or -") }}</p>
<label>{{ _("E-mail") }} <input name="email" type="email"></label>
<label>{{ _("Role") }} <select name="role">{% for r in roles %}<option value="{{ r }}"{% if r == 'worker' %} selected{% endif %}>{{ _(r) }}</option>{% endfor %}</select></label>
<label>{{ _("Beak shape") }} <input name="beak_shape" type="password"></label><p>{{ _("8–200 characters. It is hashed and never shown again.") }}</p>
<button>{{ _("Create popug") }}</button></form></section>
<section><h2>{{ _("All popugs") }} ({{ popugs.total|number }})</h2>
<table><thead><tr><th>{{ _("Username") }}</th><th>{{ _("E-mail") }}</th><th>{{ _("Role") }}</th><th>{{ _("Status") }}</th><th>{{ _("Actions") }}</th></tr></thead><tbody>
{% for p in popugs.items %}<tr><td><a href="{{ url_for('popug', public_id=p.public_id) }}">{{ p.username }}</a></td><td>{{ p.email }}</td>
<td><form method="post" action="{{ url_for('popug', public_id=p.public_id) }}/role"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}">
<label class="visually-hidden" for="role-{{ p.public_id }}">{{ _("Role of %(username)s", username=p.username) }}</label><select name="role" id="role-{{ p.public_id }}">{% for r in roles %}<option value="{{ r }}"{% if r == p.role %} selected{% endif %}>{{ _(r) }}</option>{% endfor %}</select><button>{{ _("Change role") }}</button></form></td>
<td>{{ _("active") if p.active else _("deactivated") }}</td>
<td>{% if p.active %}<a href="{{ url_for('popug', public_id=p.public_id) }}/deactivate">{{ _("Deactivate") }}</a>{% else %}<form method="post" action="{{ url_for('popug', public_id=p.public_id) }}/activate"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}"><button>{{ _("Reactivate") }}</button></form>{% endif %}</td></tr>{% endfor %}
</tbody></table>{{ pager(popugs, 'popugs', newer=false) }}</section>
{% endblock %}"""

NOTIFICATIONS_PAGE = """{% extends "layout.html" %}{% from "pager.html" import pager %}
{% block title %}{{ _("Notifications") }}{% endblock %}{% block content %}
<h1>{{ _("Notifications") }}</h1><p>{{ _("What aTES did to your work and money, newest first. Opening this page marks nothing as read.") }}</p>
{% if unread_here %}<form method="post" action="{{ url_for('notifications') }}/read"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}"><button>{{ _("Mark all as read") }}</button></form>{% endif %}
<ol>{% for n in notifications.items %}<li>{{ n.created_at|local_time }}{% if n.read_at is none %} {{ _("Unread") }}{% endif %}
<p>{% if n.kind == "task_assigned" %}{% set l = tasks.get(n.task_id) %}{% set title %}{% if l %}<a href="{{ url_for('task', public_id=l[2]) }}">{% if l[0] %}[{{ l[0] }}] {% endif %}{{ l[1] }}</a>{% else %}#{{ n.task_id }}{% endif %}{% endset %}
{% if n.actor_id == n.popug_id %}{{ _("You created “%(title)s” and it was assigned to you: its fee of %(fee)s was charged to you.", title=title, fee=(-n.amount)|money) }}{% else %}{{ _("%(creator)s created “%(title)s” and it was assigned to you: its fee of %(fee)s was charged to you.", creator=names.get(n.actor_id, "?"), title=title, fee=(-n.amount)|money) }}{% endif %}
{% elif n.kind == "shuffled" %}{{ ngettext("A shuffle gave you %(num)s task, %(amount)s.", "A shuffle gave you %(num)s tasks, %(amount)s.", n.count, amount=n.amount|money(signed=true)) }}
{% elif n.kind == "paid_out" %}{{ _("You were paid out %(amount)s when %(day)s was closed.", amount=n.amount|money, day=n.day|day) }}
{% elif n.kind == "role_changed" %}{{ _("%(admin)s changed your role to %(role)s.", admin=names.get(n.actor_id, "?"), role=_(n.role)) }}{% endif %}</p>
{% if n.day %}<a href="{{ url_for('my_account', day=n.day.isoformat()) }}">{{ _("My account on %(day)s", day=n.day|day) }}</a>{% endif %}
{% if n.read_at is none %}<form method="post" action="{{ url_for('notifications') }}/{{ n.id }}/read"><input type="hidden" name="csrf_token" value="{{ csrf_token() }}"><button>{{ _("Mark read") }}</button></form>{% endif %}
</li>{% endfor %}</ol>{{ pager(notifications, 'notifications') }}
{% endblock %}"""

TEMPLATES = {
    "layout.html": LAYOUT,
    "pager.html": PAGER,
    "task_table.html": TASK_TABLE,
    "board.html": BOARD,
    "my_tasks.html": MY_TASKS,
    "task.html": TASK,
    "account.html": ACCOUNT,
    "overview.html": OVERVIEW,
    "analytics.html": ANALYTICS,
    "popugs.html": POPUGS,
    "notifications.html": NOTIFICATIONS_PAGE,
}


class TwinUser:
    """The signed-in popug as the twin's pages need it (one row of one query)."""

    is_authenticated = is_active = True
    is_anonymous = False

    def __init__(self, row):
        self.id, self.public_id, self.username, self.role, self.locale = row[:5]
        self.balance, self.unread = int(row[5] or 0), int(row[6] or 0)

    def get_id(self):
        return self.public_id


def twin_app(config) -> Flask:
    """The competent minimal Flask app: see the module's docstring."""
    twin = Flask("twin", static_folder=str(Path(__file__).resolve().parent.parent / "app/static"))
    twin.config.from_object(config)
    twin.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    twin.jinja_loader = DictLoader(TEMPLATES)
    db.init_app(twin)  # aTES's models and query functions, on this app's own engine
    CSRFProtect(twin)
    logins = LoginManager(twin)
    user_query = (
        select(
            Popug.id,
            Popug.public_id,
            Popug.username,
            Popug.role,
            Popug.locale,
            Account.balance,
            select(func.count())
            .select_from(Notification)
            .where(Notification.popug_id == Popug.id, Notification.read_at.is_(None))
            .scalar_subquery(),
        )
        .outerjoin(Account, Account.popug_id == Popug.id)
        .where(Popug.public_id == text(":public_id"), Popug.active.is_(True))
    )

    @logins.user_loader
    def load(public_id):
        row = db.session.execute(user_query, {"public_id": public_id}).first()
        return TwinUser(row) if row else None

    def select_locale():
        chosen = getattr(current_user, "locale", None)
        return (
            chosen
            if chosen in ("en", "ru")
            else request.accept_languages.best_match(["en", "ru"], "en")
        )

    Babel(twin, locale_selector=select_locale)

    def money(cents, signed=False):
        locale = get_locale()
        if locale.language == "en":
            return format_cents(cents, signed=signed)
        text_ = format_currency(Decimal(cents) / 100, "USD", locale=locale)
        return "+" + text_ if signed and cents > 0 else text_

    def money_html(cents, signed=False):
        css = "money-neg" if cents < 0 else ("money-pos" if cents > 0 else "money-zero")
        return f'<span class="money {css}">{money(cents, signed)}</span>'

    def local_time(at):
        local = clock.local(at)
        if get_locale().language == "en":
            return local.strftime("%Y-%m-%d %H:%M")
        return format_datetime(local, "short", locale=get_locale())

    def day(value):
        if get_locale().language == "en":
            return value.isoformat()
        return format_date(value, "short", locale=get_locale())

    def number(value):
        return (
            str(value)
            if get_locale().language == "en"
            else format_decimal(value, locale=get_locale())
        )

    from markupsafe import Markup

    twin.jinja_env.filters.update(
        money=money,
        money_html=lambda c, signed=False: Markup(money_html(c, signed)),  # noqa: S704 - our own text
        local_time=local_time,
        day=day,
        number=number,
    )
    twin.jinja_env.globals.update(timedelta=timedelta, get_locale=get_locale)

    def page_arg():
        return max(1, min(request.args.get("page", 1, type=int), 100_000))

    def roles(*allowed):
        if current_user.role not in allowed:
            abort(403)

    @twin.get("/")
    @login_required
    def board():
        filter_ = request.args.get("filter", "all")
        filter_ = filter_ if filter_ in task_queries.FILTERS else "all"
        search = task_queries.parse_search(request.args.get("q"))
        tasks = task_queries.board(filter_, current_user, page_arg(), 50, search)
        names = {
            "all": gettext("All"),
            "open": gettext("Open"),
            "done": gettext("Done"),
            "mine": gettext("Mine"),
        }
        return render_template(
            "board.html",
            tasks=tasks,
            filter_=filter_,
            q=search.text,
            filters=list(names.items()),
            form_token=secrets.token_urlsafe(24),
        )

    @twin.post("/tasks")
    @login_required
    def create():
        return twin_create_task(request.form)

    @twin.get("/my-tasks")
    @login_required
    def my_tasks():
        roles("worker", "accountant")
        return render_template(
            "my_tasks.html",
            open_tasks=task_queries.open_tasks_of(current_user.id, page_arg(), 50),
            done_tasks=task_queries.recently_done_of(current_user.id),
        )

    @twin.get("/tasks/<public_id>")
    @login_required
    def task(public_id):
        found = task_queries.task_view(public_id) or abort(404)
        return render_template(
            "task.html", task=found, history=task_queries.history_of(found.id, page_arg())
        )

    @twin.post("/tasks/<public_id>/done")
    @login_required
    def done(public_id):
        abort(405)

    @twin.get("/account")
    @login_required
    def my_account():
        today = posting.open_business_day()
        try:
            day_ = datetime.strptime(request.args["day"], "%Y-%m-%d").date()
        except (KeyError, ValueError):
            day_ = today
        account = accounting_queries.account_summary(current_user.id, today, day_) or abort(404)
        entries = accounting_queries.audit_log(account.id, day_, page_arg(), 50)
        lines = accounting_queries.lines_of(e.id for e in entries.items if e.task_id is None)
        ids = [e.task_id for e in entries.items if e.task_id]
        ids += [task_id for of_entry in lines.values() for task_id, _ in of_entry]
        return render_template(
            "account.html",
            account=account,
            today=today,
            day=day_,
            entries=entries,
            lines=lines,
            labels=task_queries.labels(ids) if ids else {},
            kinds=LABELS["entry"],
        )

    @twin.get("/accounting")
    @login_required
    def overview():
        roles("admin", "accountant")
        today = clock.business_day()
        start, end = today - timedelta(days=6), today
        days = accounting_queries.daily_totals(start, end)
        open_day = posting.open_business_day()
        totals = next((d for d in days if d.day == open_day), None)
        return render_template(
            "overview.html",
            today=today,
            start=start,
            end=end,
            days=days,
            totals=totals or accounting_queries.day_totals(open_day),
            closed=accounting_queries.closed_day(today),
            in_red=accounting_queries.popugs_in_red(),
            fees=sum(d.fees for d in days),
            rewards=sum(d.rewards for d in days),
            payouts=sum(d.payouts for d in days),
            balances=accounting_queries.balances("username", "asc", page_arg(), 50),
            closed_days=accounting_queries.recent_closed_days(7),
            outbox=accounting_queries.recent_outbox(10),
            pending=accounting_queries.pending_mail(),
        )

    @twin.get("/analytics")
    @login_required
    def analytics():
        roles("admin")
        today = clock.business_day()
        report = analytics_report.range_report(today - timedelta(days=29), today)
        return render_template(
            "analytics.html",
            r=report,
            now=analytics_report.today_cards(report),
            today=today,
            timezone=twin.config["ATES_TIMEZONE"],
        )

    @twin.route("/popugs", methods=["GET", "POST"])
    @login_required
    def popugs():
        roles("admin")
        found = db.paginate(
            select(Popug).order_by(Popug.username), page=page_arg(), per_page=50, error_out=False
        )
        return render_template(
            "popugs.html", popugs=found, roles=("worker", "accountant", "manager", "admin")
        )

    @twin.get("/popugs/<public_id>")
    @login_required
    def popug(public_id):
        abort(404)

    @twin.get("/notifications")
    @login_required
    def notifications():
        found = notification_queries.page_of(current_user.id, page_arg(), 30)
        return render_template(
            "notifications.html",
            notifications=found,
            unread_here=any(n.read_at is None for n in found.items),
            **notification_queries.words_for(found.items),
        )

    @twin.after_request
    def commit(response):
        if request.method == "POST" and response.status_code < 400:
            db.session.commit()
        return response

    return twin


def twin_create_task(form):
    """The twin's creation: one query draws a random eligible popug (locking it on
    PostgreSQL, as aTES does, so a deactivation waits); the task, its ledger entry, the
    balance change and the assignee's notification in one transaction, committed after the
    view."""
    title = (form.get("title") or "").strip()
    if not title or len(title) > 200 or "[" in title or "]" in title:
        abort(422)
    draw = (
        select(Popug.id, Popug.username, Account.id)
        .join(Account, Account.popug_id == Popug.id)
        .where(Popug.active.is_(True), Popug.role.in_(("worker", "accountant")))
        .order_by(func.random())
        .limit(1)
    )
    if db.engine.dialect.name == "postgresql":
        draw = draw.with_for_update(read=True, of=Popug)
    assignee_id, assignee, account_id = db.session.execute(draw).one()
    fee = (10 + secrets.randbelow(11)) * 100
    reward = (20 + secrets.randbelow(21)) * 100
    task = Task(
        title=title,
        jira_id=(form.get("jira_id") or "").strip().upper() or None,
        description=form.get("description") or "",
        status=OPEN,
        assignee_id=assignee_id,
        creator_id=current_user.id,
        fee=fee,
        reward=reward,
        form_token=form.get("form_token") or None,
        created_at=clock.now(),
    )
    db.session.add(task)
    db.session.flush()
    day = posting.open_business_day()  # today, or the next day once it is closed
    db.session.execute(
        LedgerEntry.__table__.insert().values(
            account_id=account_id,
            kind="assign_fee",
            amount=-fee,
            task_id=task.id,
            business_day=day,
            created_at=clock.now(),
        )
    )
    db.session.execute(
        Account.__table__.update()
        .where(Account.id == account_id)
        .values(balance=Account.balance - fee)
    )
    db.session.execute(
        Notification.__table__.insert().values(
            popug_id=assignee_id,
            kind="task_assigned",
            task_id=task.id,
            actor_id=current_user.id,
            amount=-fee,
            day=day,
            created_at=clock.now(),
        )
    )
    flash(gettext("Task created and assigned to %(assignee)s.", assignee=assignee), "success")
    return redirect(url_for("board"), code=303)


# --- the run -----------------------------------------------------------------------------


def seed_notifications(engine, worker_id: int) -> None:
    """NOTIFICATIONS notifications of the worker, newest unread: its tasks landing on it,
    and its payouts."""
    with engine.begin() as conn:
        tasks = conn.execute(
            select(Task.id, Task.creator_id, Task.fee, Task.created_at)
            .where(Task.assignee_id == worker_id)
            .order_by(Task.id.desc())
            .limit(NOTIFICATIONS - 5)
        ).all()
        payouts = conn.exec_driver_sql(
            "SELECT p.amount, p.day, p.created_at FROM payouts p JOIN accounts a "
            f"ON a.id = p.account_id WHERE a.popug_id = {int(worker_id)} ORDER BY p.day DESC LIMIT 5"
        ).all()
        rows = [
            {
                "popug_id": worker_id,
                "kind": "task_assigned",
                "task_id": t.id,
                "actor_id": t.creator_id,
                "amount": -t.fee,
                "created_at": t.created_at,
            }
            for t in tasks
        ] + [
            {
                "popug_id": worker_id,
                "kind": "paid_out",
                "amount": amount,
                "day": day,
                "created_at": at,
            }
            for amount, day, at in payouts
        ]
        rows.sort(key=lambda row: row["created_at"])
        for n, row in enumerate(rows):
            row["read_at"] = row["created_at"] if n < len(rows) // 2 else None
        conn.execute(Notification.__table__.insert(), rows)


def signed_in_clients(app, twin, popug_id: int, language: str):
    """Test clients of aTES and of the twin, signed in as the popug, asking for `language`."""
    with app.app_context():
        popug = db.session.get(Popug, popug_id)
        session_id, public_id = popug.get_id(), popug.public_id
        db.session.remove()
    ours = app.test_client()
    with ours.session_transaction() as cookie:
        cookie["_user_id"] = session_id
        sessions.begin(cookie)
        cookie["_fresh"] = True
    theirs = twin.test_client()
    with theirs.session_transaction() as cookie:
        cookie["_user_id"] = public_id
        cookie["_fresh"] = True
    headers = {"Accept-Language": language}
    return ours, theirs, headers


def pick_popugs(app, population: Population) -> dict:
    with app.app_context():
        worker = db.session.execute(
            select(Task.assignee_id)
            .join(Popug, Popug.id == Task.assignee_id)
            .where(Task.status == OPEN, Popug.role == "worker", Popug.active.is_(True))
            .group_by(Task.assignee_id)
            .order_by(func.count().desc(), Task.assignee_id)
            .limit(1)
        ).scalar_one()
        task = db.session.scalar(
            select(Task.public_id)
            .where(Task.assignee_id == worker, Task.status == "done")
            .order_by(Task.id.desc())
            .limit(1)
        )
        db.session.remove()
    return {"worker": worker, "accountant": population.last_accountant, "admin": 1, "task": task}


def page_list(people: dict) -> list[tuple[str, str, str]]:
    """(label, who, path) of the pages compared."""
    return [
        ("Tasks board (all)", "worker", "/"),
        ("Tasks board, a search (?q=task)", "worker", "/?q=task"),
        ("Tasks board, Mine", "worker", "/?filter=mine"),
        ("My tasks", "worker", "/my-tasks"),
        ("My account", "worker", "/account"),
        ("A task's page", "worker", f"/tasks/{people['task']}"),
        ("Accounting overview", "accountant", "/accounting"),
        ("Analytics (30 days)", "admin", "/analytics"),
        ("Popugs list", "admin", "/popugs"),
        ("Notifications", "worker", "/notifications"),
    ]


def fetch(client, path, headers):
    cpu, wall = time.process_time(), time.perf_counter()
    response = client.get(path, headers=headers)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if response.status_code != 200:
        raise AssertionError(f"{path} answered {response.status_code}")
    return cpu, wall, response


def bench_pages(app, twin, people, rounds: int, language: str) -> dict:
    clients = {
        who: signed_in_clients(app, twin, people[who], language)
        for who in ("worker", "accountant", "admin")
    }
    pages = page_list(people)
    times = {label: {"ours": ([], []), "twin": ([], [])} for label, _, _ in pages}
    for round_ in range(WARMUP + rounds):
        for label, who, path in pages:
            ours, theirs, headers = clients[who]
            order = (("ours", ours), ("twin", theirs))
            for kind, client in order if round_ % 2 else order[::-1]:
                cpu, wall, _ = fetch(client, path, headers)
                if round_ >= WARMUP:
                    times[label][kind][0].append(cpu)
                    times[label][kind][1].append(wall)
    results = {}
    for label, kinds in times.items():
        ours_cpu, twin_cpu = quantile(kinds["ours"][0], 0.5), quantile(kinds["twin"][0], 0.5)
        ours_wall, twin_wall = quantile(kinds["ours"][1], 0.5), quantile(kinds["twin"][1], 0.5)
        results[label] = {
            "ours_cpu": ours_cpu * 1000,
            "twin_cpu": twin_cpu * 1000,
            "ours_wall": ours_wall * 1000,
            "twin_wall": twin_wall * 1000,
            "ratio": ours_cpu / twin_cpu if twin_cpu else float("nan"),
            "wall_ratio": ours_wall / twin_wall if twin_wall else float("nan"),
        }
    return results


CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def bench_creations(app, twin, people, batches: int, batch: int) -> dict:
    """POST /tasks as a browser sends it, to aTES and to the twin, in interleaved batches."""
    ours, theirs, headers = signed_in_clients(app, twin, people["worker"], "en")
    tokens = {}
    for kind, client in (("ours", ours), ("twin", theirs)):
        _, _, page = fetch(client, "/", headers)
        tokens[kind] = CSRF_FIELD.search(page.get_data(as_text=True)).group(1)
    totals = {"ours": [0.0, 0.0], "twin": [0.0, 0.0]}
    made = 0
    for n in range(batches):
        order = (("ours", ours), ("twin", theirs))
        for kind, client in order if n % 2 else order[::-1]:
            cpu, wall = time.process_time(), time.perf_counter()
            for _ in range(batch):
                made += 1
                response = client.post(
                    "/tasks",
                    headers=headers,
                    data={
                        "csrf_token": tokens[kind],
                        "title": f"Created by bench/pages.py {made}",
                        "jira_id": f"PAGES-{made}",
                        "description": "",
                        "form_token": secrets.token_urlsafe(24),
                    },
                )
                if response.status_code != 303:
                    raise AssertionError(f"{kind}: POST /tasks answered {response.status_code}")
            totals[kind][0] += time.process_time() - cpu
            totals[kind][1] += time.perf_counter() - wall
    count = batches * batch
    with app.app_context():
        with db.engine.connect() as conn:
            assert_ledger_consistent(conn)
            pattern = {"pattern": "Created by bench/pages.py %"}  # a parameter: psycopg and %
            unpaired = conn.execute(
                text(
                    "SELECT count(*) FROM tasks t JOIN task_texts x ON x.task_id = t.id WHERE "
                    "x.title LIKE :pattern AND (SELECT count(*) FROM ledger_entries l "
                    "WHERE l.task_id = t.id AND l.kind = 'assign_fee') <> 1"
                ),
                pattern,
            ).scalar()
            created = conn.execute(
                text("SELECT count(*) FROM task_texts WHERE title LIKE :pattern"), pattern
            ).scalar()
        db.session.remove()
    if unpaired or created != 2 * count:
        raise AssertionError(f"created {created} of {2 * count}, {unpaired} without one fee")
    return {
        kind: {"per_s": count / wall, "per_cpu_s": count / cpu}
        for kind, (cpu, wall) in totals.items()
    } | {"count": count}


def profile_page(app, twin, people, label: str, requests: int, language: str) -> None:
    """cProfile of `requests` fetches of one aTES page (by the start of its label)."""
    for page_label, who, path in page_list(people):  # noqa: B007 - used after the loop
        if page_label.lower().startswith(label.lower()):
            break
    else:
        raise SystemExit(f"no page labelled {label!r}")
    ours, _, headers = signed_in_clients(app, twin, people[who], language)
    for _ in range(WARMUP):
        fetch(ours, path, headers)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        fetch(ours, path, headers)
    profiler.disable()
    print(f"\n## cProfile: {requests} × {page_label} ({path}, {language})\n")
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(40)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument(
        "--database-url", help="PostgreSQL URL of a database to create, use and drop"
    )
    parser.add_argument("--rounds", type=int, help="rounds of every page (default 300)")
    parser.add_argument("--only", default="pages,create", help="pages, create, or both")
    parser.add_argument("--languages", default="en,ru", help="languages of the pages")
    parser.add_argument("--profile", metavar="PAGE", help="cProfile aTES's PAGE instead")
    parser.add_argument(
        "--priority",
        type=int,
        default=0,
        help="niceness of this process and its PostgreSQL backends (e.g. -10, needs root)",
    )
    args = parser.parse_args()
    sizes = dict(QUICK if args.quick else FULL)
    rounds = args.rounds or sizes["rounds"]
    population: Population = sizes["population"]
    parts = set(args.only.split(","))
    print(f"# bench/pages.py — {datetime.now(UTC):%Y-%m-%d %H:%M} UTC — {machine()}")
    clock.freeze(NOW)
    try:
        with fresh_database(args.database_url, "ates_bench_pages") as url:
            config = bench_config(url)

            class PagesConfig(config):
                WTF_CSRF_ENABLED = True  # as in production: the forms carry their token

            from app import create_app

            app = create_app(PagesConfig)
            twin = twin_app(PagesConfig)
            with app.app_context():
                raise_priority(db.engine, args.priority)
                db.create_all()
                engine_name = describe_database(db.engine)
                seeded = seed(db.engine, population)
                people = pick_popugs(app, population)
                seed_notifications(db.engine, people["worker"])
            with twin.app_context():
                raise_priority(db.engine, args.priority)
            print(f"database: {engine_name}; load average before: {load()}")
            print(
                f"seeded {population.popugs:,} popugs, {population.tasks:,} tasks "
                f"({population.open_tasks:,} open, {population.done_tasks:,} done) over "
                f"{population.days} days, {seeded['rows']['ledger_entries']:,} ledger entries, "
                f"{seeded['closed_days']} closed days, in {seeded['seconds']:.1f} s; signed in: "
                f"worker #{people['worker']}, accountant #{people['accountant']}, admin #1"
            )
            if args.profile:
                for language in args.languages.split(","):
                    profile_page(app, twin, people, args.profile, rounds, language)
                return
            if "pages" in parts:
                for language in args.languages.split(","):
                    results = bench_pages(app, twin, people, rounds, language)
                    print(
                        f"\n## Pages, {language} ({rounds} rounds after {WARMUP} warm-up, "
                        f"interleaved; medians; load now {load()})\n"
                    )
                    print(
                        markdown_table(
                            [
                                "page",
                                "aTES CPU ms",
                                "twin CPU ms",
                                "× twin (CPU)",
                                "aTES wall ms",
                                "twin wall ms",
                                "× twin (wall)",
                            ],
                            [
                                [
                                    label,
                                    f"{r['ours_cpu']:.2f}",
                                    f"{r['twin_cpu']:.2f}",
                                    f"**{r['ratio']:.2f}**",
                                    f"{r['ours_wall']:.2f}",
                                    f"{r['twin_wall']:.2f}",
                                    f"{r['wall_ratio']:.2f}",
                                ]
                                for label, r in results.items()
                            ],
                        )
                    )
                    missed = [label for label, r in results.items() if r["ratio"] > GOAL_PAGE]
                    print(
                        f"\nGoal ≤ {GOAL_PAGE}× the twin's CPU: "
                        + (f"missed by {', '.join(missed)}" if missed else "met by every page")
                    )
            if "create" in parts:
                batches = 4 if args.quick else CREATION_BATCHES
                made = bench_creations(app, twin, people, batches, CREATION_BATCH)
                ours, theirs = made["ours"], made["twin"]
                print(
                    f"\n## Creating a task (POST /tasks with its CSRF token, {made['count']} each, "
                    f"in interleaved batches of {CREATION_BATCH}; load now {load()})\n"
                )
                print(
                    markdown_table(
                        ["", "aTES route", "twin", "aTES ÷ twin"],
                        [
                            [
                                "creations per second (wall)",
                                f"{ours['per_s']:.0f}",
                                f"{theirs['per_s']:.0f}",
                                f"**{ours['per_s'] / theirs['per_s']:.2f}**",
                            ],
                            [
                                "creations per CPU second",
                                f"{ours['per_cpu_s']:.0f}",
                                f"{theirs['per_cpu_s']:.0f}",
                                f"{ours['per_cpu_s'] / theirs['per_cpu_s']:.2f}",
                            ],
                        ],
                    )
                )
                print(
                    f"\nGoal ≥ {GOAL_CREATE}× the twin: "
                    + ("met" if ours["per_s"] / theirs["per_s"] >= GOAL_CREATE else "MISSED")
                    + "; ledger consistent, one assign_fee per created task"
                )
            for each in (app, twin):
                with each.app_context():
                    db.session.remove()
                    db.engine.dispose()
    finally:
        clock.freeze(None)
    print(f"\nload average after: {load()}")


if __name__ == "__main__":
    main()
