"""The Procfile is the deployment: its processes are the README's, and started exactly as
written with only ATES_ENV, DATABASE_URL and SECRET_KEY set, a shuffle pressed over HTTP is
run by its worker and shown done (bench/deploy_shuffle.py does the same at a million tasks)."""

import shutil
import subprocess
import sys
import threading
from pathlib import Path

from tests.support.apps import bench_app
from tests.support.deployment import ROOT, press_and_follow, procfile, start_deployment, stop
from tests.support.http import Client
from tests.support.seeding import Population, seed

README = (ROOT / "README.md").read_text()


def test_the_procfile_runs_what_the_readme_deploys():
    lines = [line for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()]
    assert [line.split(":", 1)[0] for line in lines] == ["web", "worker"]
    for line in lines:
        command = line.split(":", 1)[1].strip()
        assert command in README, f"the README does not run {command!r}"


def _migrated(tmp_path: Path, checkout: Path) -> str:
    """A SQLite database in `tmp_path`, migrated by `flask db upgrade` run in `checkout`."""
    url = f"sqlite:///{tmp_path / 'deployed.sqlite3'}"
    env = {"DATABASE_URL": url, "ATES_ENV": "development", "PATH": "/usr/bin:/bin"}
    migrate = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
    )
    assert migrate.returncode == 0, migrate.stderr
    return url


def test_a_shuffle_pressed_in_the_procfile_deployment_is_run_and_shown(tmp_path: Path):
    url = _migrated(tmp_path, ROOT)
    population = Population(200, 500, 50)
    app = bench_app(url)
    with app.app_context():
        from app.extensions import db

        seed(db.engine, population)
        db.engine.dispose()
    assert set(procfile()) == {"web", "worker"}
    processes, port = start_deployment(url, tmp_path)
    try:
        figures = press_and_follow(port, population)
    finally:
        stop(processes)
    assert figures["press_s"] < 5
    assert figures["result"].startswith("Done Reassigned 500 open tasks among")
    assert figures["states"][-1] == "Done"
    for label, samples in figures["reads"].items():
        assert {status for status, _, _ in samples} == {200}, label
    worker_log = (tmp_path / "worker.log").read_text()
    assert "Traceback" not in worker_log and "done: 500 open tasks" in worker_log


def test_the_procfile_deployment_speaks_russian_without_a_build_step(tmp_path: Path):
    """Installed as the README deploys it (no make step, so no compiled catalogues), the
    Procfile's web process still serves Russian pages: the app compiles them at start."""
    checkout = tmp_path / "checkout"
    shutil.copytree(
        ROOT,
        checkout,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "node_modules", "instance", "__pycache__", "*.mo", ".*cache"
        ),
    )
    (checkout / ".venv").symlink_to(ROOT / ".venv")
    assert not list(checkout.glob("app/translations/*/LC_MESSAGES/messages.mo"))
    url = _migrated(tmp_path, checkout)
    processes, port = start_deployment(url, tmp_path, root=checkout)
    try:
        status, body = Client(port, [], threading.Lock()).request(
            None, "GET", "/sign-in", headers={"Accept-Language": "ru"}
        )
    finally:
        stop(processes)
    assert status == 200
    assert "Форма клюва" in body and "Войти" in body
