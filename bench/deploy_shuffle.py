"""A shuffle pressed over HTTP in the production deployment (docs/deploying.md), at scale.

    python bench/deploy_shuffle.py [--open-tasks 1000000] [--popugs 10000] [--done 100000]
                                   [--quick]
                                   [--database-url postgresql://postgres@127.0.0.1:5432/NAME]

Seeds a fresh database (bench.common.seed; SQLite in a temporary directory without
--database-url), migrated by `flask db upgrade`, then starts every process of the
repository's `Procfile` exactly as written (only gunicorn's port is swapped for a free
one) with nothing but ATES_ENV=production, DATABASE_URL and SECRET_KEY in the
environment. Over plain HTTP on loopback, as the TLS proxy in front would:

- a manager signs in, opens the confirmation page and presses "Shuffle open tasks";
- the manager's page is polled as htmx polls it, once a second, until the shuffle is done;
- meanwhile a worker reloads the Tasks board and My tasks, once a second each.

Reported: how long the press took, every state the page showed, the shuffle's own server
time ("Took N ms" on its page), the time from press to result, the slowest request of
each kind, the worker process's peak memory (VmHWM), and `flask accounting verify`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.common import (  # noqa: E402
    ROOT,
    Population,
    bench_app,
    describe_database,
    fresh_database,
    load,
    machine,
    seed,
)
from bench.load import flask  # noqa: E402
from tests.support.deployment import (  # noqa: E402
    press_and_follow,
    start_deployment,
    stop,
)

FULL = Population(10_000, 1_000_000, 100_000)
QUICK = Population(1_000, 10_000, 1_000)


def vm_hwm_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def compress(states: list[str]) -> str:
    """Queued, Queued, Running 0 s, Running 1 s, … as "Queued ×2 → Running 0…12 s → Done"."""
    runs: list[list[str]] = []
    for state in states:
        if runs and runs[-1][0].split()[0] == state.split()[0]:
            runs[-1].append(state)
        else:
            runs.append([state])
    out = []
    for run in runs:
        first, last = run[0], run[-1]
        if first.startswith("Running") and len(run) > 1:
            out.append(f"Running {first.split()[1]}…{last.split()[1]} s ({len(run)} polls)")
        else:
            out.append(first + (f" ×{len(run)}" if len(run) > 1 else ""))
    return " → ".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", help="PostgreSQL URL (the database is created)")
    parser.add_argument("--open-tasks", type=int, help="default 1,000,000 (quick 10,000)")
    parser.add_argument("--done", type=int, help="default 100,000 (quick 1,000)")
    parser.add_argument("--popugs", type=int, help="default 10,000 (quick 1,000)")
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    args = parser.parse_args()
    sizes = QUICK if args.quick else FULL
    population = Population(
        args.popugs or sizes.popugs,
        sizes.open_tasks if args.open_tasks is None else args.open_tasks,
        sizes.done_tasks if args.done is None else args.done,
    )
    print(f"# bench/deploy_shuffle.py — {machine()} — load {load()}", flush=True)
    with fresh_database(args.database_url, "ates_deploy_shuffle") as url:
        env_url = url.replace("postgresql+psycopg://", "postgresql://")
        cli_env = {**os.environ, "DATABASE_URL": env_url, "ATES_ENV": "development"}
        migrate = flask(cli_env, "db", "upgrade")
        assert migrate.returncode == 0, migrate.stderr
        app = bench_app(url)
        with app.app_context():
            from app.extensions import db

            seeded = seed(db.engine, population)
            engine_name = describe_database(db.engine)
            db.engine.dispose()
        print(f"{engine_name}; seeded {population} in {seeded['seconds']:.1f} s", flush=True)
        logs = Path(url.removeprefix("sqlite:///")).parent if "sqlite" in url else ROOT / "instance"
        logs.mkdir(exist_ok=True)
        processes, port = start_deployment(env_url, logs)
        try:
            figures = press_and_follow(port, population)
            worker_mb = vm_hwm_mb(processes["worker"].pid)
        finally:
            stop(processes)
        verify = flask(cli_env, "accounting", "verify")
    print(f"\n- press answered in {figures['press_s'] * 1000:.0f} ms (303 to the shuffle's page)")
    print(f"- the page showed: {compress(figures['states'])}")
    print(f"- result: “{figures['result']}” {figures['result_s']:.1f} s after the press")
    print(f"- the shuffle's server time (its page's “Took”): {figures['took_ms']:,} ms")
    print(f"- slowest poll of the shuffle's page: {figures['slowest_poll_s'] * 1000:.0f} ms")
    for label, samples in figures["reads"].items():
        slowest = max(seconds for _, seconds, _ in samples)
        notices = sum(notice for _, _, notice in samples)
        statuses = sorted({status for status, _, _ in samples})
        print(
            f"- a worker's {label}: {len(samples)} loads (HTTP {statuses}), slowest "
            f"{slowest * 1000:.0f} ms, {notices} showed the shuffle notice"
        )
    print(f"- job worker's peak memory (VmHWM): {worker_mb:.0f} MB")
    print(f"- `flask accounting verify`: exit {verify.returncode} {verify.stdout.strip()[:200]}")
    return 0 if verify.returncode == 0 and figures["result"].startswith("Done") else 1


if __name__ == "__main__":
    sys.exit(main())
