"""The statements a call runs, and their plans (the query-plan tests and bench/popugs_search)."""

from sqlalchemy import event

from app.extensions import db


def captured(call) -> list[tuple[str, object]]:
    """(statement, parameters) of every statement that `call()` runs, in order."""
    seen = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        call()
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    return seen


def explained(call) -> list[str]:
    """PostgreSQL's EXPLAIN of every statement that `call()` runs, with the same parameters."""
    connection = db.session.connection()
    return [
        "\n".join(connection.exec_driver_sql(f"EXPLAIN {sql}", params).scalars())
        for sql, params in captured(call)
    ]
