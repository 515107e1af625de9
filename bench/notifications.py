"""Benchmark of a shuffle's notifications: at 1,000,000 open tasks among 10,000 popugs, the
shuffle (press, claim, run, as the job worker does) with its one INSERT … SELECT of one
notification per popug, and that statement's own share; the same with every popug choosing
e-mails right away (one more INSERT … SELECT, one e-mail per popug), and the sender's
writing of those e-mails' words; then the top bar's count check
(`GET /notifications/count`) answered 304, against the Tasks board, in server CPU per
request (in-process test client: CPU of this process, which runs the app).

    python bench/notifications.py [--quick] [--database-url postgresql://…/NAME]

Without --database-url it runs on a SQLite file in a temporary directory; with it, the
database NAME is created and dropped at the end. --quick: 1,000 popugs and 10,000 tasks.
"""

from __future__ import annotations

import argparse
import secrets
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import create_engine, func, insert, literal, select  # noqa: E402

from app.blueprints.accounting import mail as outbox_mail  # noqa: E402
from app.blueprints.accounting.models import OutboxMessage  # noqa: E402
from app.blueprints.auth import sessions  # noqa: E402
from app.blueprints.auth.models import Popug  # noqa: E402
from app.blueprints.notifications.models import (  # noqa: E402
    RIGHT_AWAY,
    EmailPreference,
    Notification,
)
from app.blueprints.tasks import shuffles  # noqa: E402
from app.config import database_url  # noqa: E402
from app.db import write_intent  # noqa: E402
from app.extensions import db  # noqa: E402
from bench.common import (  # noqa: E402
    Population,
    StatementLog,
    bench_app,
    describe_database,
    fresh_database,
    machine,
    popug_session_id,
    seed,
    settle,
)

CHECKS = 300


def choose_right_away() -> int:
    """Every popug chooses to be e-mailed right away (the worst case for a shuffle)."""
    db.session.execute(
        insert(EmailPreference.__table__).from_select(
            ["popug_id", "choice"], select(Popug.id, literal(RIGHT_AWAY))
        )
    )
    db.session.commit()
    return db.session.scalar(select(func.count()).select_from(EmailPreference))


def write_texts() -> dict:
    """The outbox's sender writes the queued e-mails' words (as it does before sending
    them), BATCH at a time, until none is left."""
    started = time.perf_counter()
    written = 0
    with write_intent():
        while done := outbox_mail._write_texts(outbox_mail.BATCH):
            written += done
    return {"written": written, "seconds": time.perf_counter() - started}


def shuffle(log: StatementLog) -> dict:
    manager = db.session.scalar(select(Popug).where(Popug.role == "manager").limit(1))
    with write_intent():
        shuffles.request_shuffle(actor=manager, form_token=secrets.token_urlsafe(24))
        db.session.commit()
        shuffle_id = shuffles.claim_next_shuffle().id
        db.session.commit()
        log.reset()
        started = time.perf_counter()
        done = shuffles.run_shuffle(shuffle_id)
        db.session.commit()
        seconds = time.perf_counter() - started
    notify = sum(s for statement, s in log.entries if "INSERT INTO notifications" in statement)
    mail = sum(
        s
        for statement, s in log.entries
        if "INSERT INTO mail_outbox" in statement or "max(notifications.id)" in statement
    )
    mailed = db.session.scalar(
        select(func.count()).select_from(OutboxMessage).where(OutboxMessage.body.is_(None))
    )
    rows, popugs = db.session.execute(
        select(func.count(), func.count(func.distinct(Notification.popug_id))).where(
            Notification.shuffle_id == shuffle_id
        )
    ).one()
    assert rows == popugs, "one notification per popug"
    return {
        "moved": done.tasks_count,
        "shuffle_s": seconds,
        "notify_s": notify,
        "mail_s": mail,
        "mailed": mailed,
        "rows": rows,
    }


def report(result: dict) -> None:
    print(
        f"shuffle of {result['moved']:,} open tasks: {result['shuffle_s']:.2f} s, of which "
        f"the notifications' INSERT … SELECT {result['notify_s'] * 1000:.0f} ms "
        f"({result['rows']:,} rows, one per popug) and their right-away e-mails "
        f"{result['mail_s'] * 1000:.0f} ms ({result['mailed']:,} queued)"
    )


def cpu_per_request(client, url: str, headers: dict, expected: int) -> float:
    client.get(url, headers=headers)  # warm
    started = time.process_time()
    for _ in range(CHECKS):
        response = client.get(url, headers=headers)
        assert response.status_code == expected, (url, response.status_code)
        response.close()
    return (time.process_time() - started) / CHECKS


def checks(app, popug_id: int) -> dict:
    client = app.test_client()
    with client.session_transaction() as session:
        session["_user_id"] = popug_session_id(popug_id)
        session["_fresh"] = True
        sessions.begin(session)
    poll = {"HX-Request": "true", "X-Background": "1"}
    etag = client.get("/notifications/count", headers=poll).headers["ETag"]
    return {
        "count_304_ms": 1000
        * cpu_per_request(client, "/notifications/count", {**poll, "If-None-Match": etag}, 304),
        "count_200_ms": 1000 * cpu_per_request(client, "/notifications/count", poll, 200),
        "board_ms": 1000 * cpu_per_request(client, "/", {}, 200),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--database-url")
    args = parser.parse_args()
    population = (
        Population(popugs=1_000, open_tasks=10_000, done_tasks=0)
        if args.quick
        else Population(popugs=10_000, open_tasks=1_000_000, done_tasks=0)
    )
    with fresh_database(args.database_url, "ates_bench_notifications") as url:
        app = bench_app(url)
        with app.app_context():
            db.create_all()
        engine = create_engine(database_url(url, url))
        seeded = seed(engine, population)
        settle(engine)
        print(describe_database(engine), "|", machine())
        print(f"seeded in {seeded['seconds']:.1f} s: {population}")
        with app.app_context():
            log = StatementLog(db.engine)
            report(shuffle(log))  # nobody chose right away: the default
            print(f"{choose_right_away():,} popugs choose e-mails right away")
            report(shuffle(log))
            log.close()
            texts = write_texts()
            print(
                f"the sender wrote {texts['written']:,} e-mails' words in {texts['seconds']:.2f} s"
            )
            worker = population.popugs  # the last popug: a worker
            figures = checks(app, worker)
            db.session.remove()
        print(
            f"CPU per request: count answered 304 {figures['count_304_ms']:.2f} ms, "
            f"answered 200 {figures['count_200_ms']:.2f} ms, "
            f"Tasks board {figures['board_ms']:.2f} ms "
            f"(304 / board = {figures['count_304_ms'] / figures['board_ms']:.2f})"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
