"""A separate aTES process for the fault tests, killed with SIGKILL by the test.

    python -m tests.reliability.fault_worker shuffle URL [--pause-after SQL] [--token T]
    python -m tests.reliability.fault_worker work URL [--pause-after SQL]
    python -m tests.reliability.fault_worker cli URL [--pause-after SQL] -- billing close-day …

`shuffle` presses "Shuffle open tasks" as the manager (popug 2) and commits, as the route
does, then runs the job worker until no shuffle is waiting (app.worker.work, once); it
prints STARTED just before the worker starts and COMMITTED after it is done. `work` runs
only the worker, as a restarted worker process would.
`cli` runs a `flask --app wsgi …` command of the same app in this process (so the pause hook
applies to it); it prints STARTED first and EXIT <code> at the end.

--pause-after SQL: after the first statement whose text starts with SQL (case-insensitive,
whitespace squeezed) has executed, print PAUSED and block until killed, so the test can kill
the process at an exact point inside the transaction.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading

from sqlalchemy import event

from app import create_app
from app.db import write_intent
from app.extensions import db
from tests.reliability.helpers import config_for


def pause_after(engine, prefix: str) -> None:
    wanted = " ".join(prefix.split()).lower()

    @event.listens_for(engine, "after_cursor_execute")
    def _after(conn, cursor, statement, parameters, context, executemany):
        if " ".join(statement.split()).lower().startswith(wanted):
            # the real stdout: a CLI command run by CliRunner has sys.stdout captured
            print("PAUSED", " ".join(statement.split())[:80], file=sys.__stdout__, flush=True)
            threading.Event().wait()  # until SIGKILL


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=("shuffle", "work", "cli"))
    parser.add_argument("url")
    parser.add_argument("--pause-after")
    parser.add_argument("--token", help="the shuffle form's one-time token")
    rest = argv[argv.index("--") + 1 :] if "--" in argv else []
    args = parser.parse_args(argv[: argv.index("--")] if "--" in argv else argv)
    app = create_app(
        config_for(
            args.url,
            TESTING=False,
            MAIL_SERVER=os.environ.get("MAIL_SERVER", ""),
            MAIL_PORT=int(os.environ.get("MAIL_PORT", 25)),
        )
    )
    with app.app_context():
        if args.pause_after:
            pause_after(db.engine, args.pause_after)
        if args.action in ("shuffle", "work"):
            from app.blueprints.auth.models import Popug
            from app.blueprints.tasks import shuffles
            from app.worker import work

            if args.action == "shuffle":
                with write_intent():
                    manager = db.session.get(Popug, 2)
                    shuffles.request_shuffle(actor=manager, form_token=args.token)
                    db.session.commit()
            print("STARTED", flush=True)
            work(threading.Event(), poll=0.05, once=True)
            print("COMMITTED", flush=True)
            return 0
    print("STARTED", flush=True)
    result = app.test_cli_runner().invoke(args=rest, catch_exceptions=False)
    print(result.output, flush=True)
    print("EXIT", result.exit_code, flush=True)
    return result.exit_code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
