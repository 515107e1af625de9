"""The README's API script, taken from between its markers and run with bash exactly as
written against a live aTES (tests/api/live.py), with a real token: the task it creates
exists and is done, and the balance it reads has moved by the task's reward less its fee."""

import json
import os
import re
import shutil
import subprocess

import pytest
from sqlalchemy import select

from app.blueprints.tasks.models import TASK_TEXTS, TASKS
from app.extensions import db
from tests.api.live import live_app
from tests.factories import make_popug, make_token
from tests.reliability.helpers import app_on
from tests.support.deployment import ROOT

SCRIPT = re.compile(r"<!-- api-script -->\n```bash\n(.*?)```\n<!-- /api-script -->", re.S)


def readme_script() -> str:
    found = SCRIPT.search((ROOT / "README.md").read_text())
    assert found, "README.md has no script between <!-- api-script --> markers"
    return found.group(1)


def _documents(output: str) -> list:
    """The JSON documents curl printed one after the other."""
    found, at, decoder = [], 0, json.JSONDecoder()
    while at < len(output.rstrip()):
        document, at = decoder.raw_decode(output, at)
        found.append(document)
        at += len(output[at:]) - len(output[at:].lstrip())
    return found


def _seed() -> str:
    """The token's owner is the only popug who can take tasks: the task lands on them."""
    owner = make_popug(role="worker", username="ci-bot")
    make_popug(role="manager", username="a-manager")
    return make_token(owner, name="ci")


def test_the_script_sets_its_host_and_token_at_its_top():
    lines = readme_script().splitlines()
    assert lines[1].startswith("HOST=${ATES_HOST:-http://127.0.0.1:5000}")
    assert lines[2].startswith("TOKEN=${ATES_TOKEN:?")


def test_the_readme_script_creates_completes_and_reads_the_balance(tmp_path):
    if not shutil.which("curl"):
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("curl is not installed (apt-get install curl)")
        pytest.skip("curl is not installed")
    with live_app(tmp_path, _seed) as live:
        done = subprocess.run(
            ["bash", "-c", readme_script()],
            env={"PATH": "/usr/bin:/bin", "ATES_HOST": live.base, "ATES_TOKEN": live.seeded},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        completed, me = _documents(done.stdout)
        with app_on(live.url):
            task = db.session.execute(
                select(TASKS, TASK_TEXTS.c.title, TASK_TEXTS.c.public_id).join(
                    TASK_TEXTS, TASK_TEXTS.c.task_id == TASKS.c.id
                )
            ).one()
        assert task.title == "Build 1234 is red" and task.status == "done"
        assert completed["public_id"] == task.public_id and completed["status"] == "done"
        assert me["username"] == "ci-bot"
        assert me["balance"]["cents"] == task.reward - task.fee != 0
        live.verify()
