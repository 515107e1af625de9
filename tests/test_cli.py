"""Command line: `flask popugs create` and `flask demo seed`."""

import re
import uuid

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from app.blueprints.accounting import posting
from app.blueprints.accounting.models import Account
from app.blueprints.auth import service
from app.blueprints.auth.models import Popug
from app.demo import DEMO_POPUGS
from app.extensions import db

BEAK = "round and orange beak"


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


def create_args(username="kiwi", email="kiwi@uberpopug.inc", role="worker", beak=BEAK):
    args = ["popugs", "create", "--username", username, "--email", email, "--role", role]
    return args + (["--beak-shape", beak] if beak is not None else [])


def popugs() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count(Popug.id)))


def test_popugs_create_with_the_beak_shape_option(runner):
    result = runner.invoke(args=create_args())
    assert result.exit_code == 0, result.output
    match = re.fullmatch(r"Created worker kiwi \(([0-9a-f-]{36})\)\.\n", result.output)
    assert match, result.output
    db.session.rollback()
    popug = service.get_popug(match.group(1))
    assert uuid.UUID(popug.public_id).version == 4
    assert (popug.username, popug.email, popug.role, popug.active) == (
        "kiwi",
        "kiwi@uberpopug.inc",
        "worker",
        True,
    )
    assert PasswordHasher().verify(popug.beak_hash, BEAK)
    assert posting.balance_of(popug.id) == 0
    assert service.authenticate("kiwi", BEAK) is popug


def test_popugs_create_asks_for_the_beak_shape_without_echo(runner):
    result = runner.invoke(args=create_args(role="admin", beak=None), input=f"{BEAK}\n{BEAK}\n")
    assert result.exit_code == 0, result.output
    assert "Beak shape" in result.output
    assert BEAK not in result.output  # hidden input is not echoed
    assert "Created admin kiwi (" in result.output
    db.session.rollback()
    assert service.authenticate("kiwi", BEAK).role == "admin"


def test_popugs_create_prompt_needs_a_matching_confirmation(runner):
    result = runner.invoke(
        args=create_args(beak=None), input=f"{BEAK}\nsomething else\n{BEAK}\n{BEAK}\n"
    )
    assert result.exit_code == 0, result.output
    assert "do not match" in result.output.lower() or "don't match" in result.output.lower()
    db.session.rollback()
    assert service.authenticate("kiwi", BEAK) is not None


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"username": "KIWI", "email": "other@uberpopug.inc"}, "This username is taken."),
        ({"username": "kiwi2", "email": "Kiwi@UberPopug.inc"}, "A popug with this e-mail"),
    ],
)
def test_popugs_create_duplicate_fails_with_a_message(runner, changes, message):
    assert runner.invoke(args=create_args()).exit_code == 0
    result = runner.invoke(args=create_args(**changes))
    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
    assert popugs() == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"username": "k!"}, "Use 3 to 32 characters"),
        ({"email": "not-an-email"}, "Enter a valid e-mail address"),
        ({"beak": "short"}, "Describe the beak in 8 to 200 characters."),
    ],
)
def test_popugs_create_validation_errors(runner, changes, message):
    result = runner.invoke(args=create_args(**changes))
    assert result.exit_code == 1
    assert message in result.output
    assert popugs() == 0


def test_popugs_create_refuses_an_unknown_role(runner):
    result = runner.invoke(args=create_args(role="overlord"))
    assert result.exit_code == 2
    assert "overlord" in result.output
    assert popugs() == 0


def test_popugs_create_is_atomic(runner, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("accounting is down")

    monkeypatch.setattr(posting, "open_account", broken)
    result = runner.invoke(args=create_args())
    assert result.exit_code != 0
    assert popugs() == 0


def test_demo_seed_twice(runner):
    first = runner.invoke(args=["demo", "seed"])
    assert first.exit_code == 0, first.output
    assert "Loaded the demo organisation" in first.output
    for username, role, beak in DEMO_POPUGS:
        assert f"{role:<10}  Username: {username:<10}  Beak shape: {beak}" in first.output
    assert popugs() == len(DEMO_POPUGS) == 8

    roles = sorted(role for _, role, _ in DEMO_POPUGS)
    assert roles == ["accountant", "admin", "manager"] + ["worker"] * 5
    for username, role, beak in DEMO_POPUGS:
        popug = service.authenticate(username, beak)
        assert popug is not None and popug.role == role
    assert db.session.scalar(select(func.count(Account.id))) == 8

    second = runner.invoke(args=["demo", "seed"])
    assert second.exit_code == 0, second.output
    assert "already has popugs; demo data not loaded" in second.output
    assert popugs() == 8
    assert db.session.scalar(select(func.count(Account.id))) == 8


def test_demo_seed_leaves_an_existing_organisation_alone(runner):
    assert runner.invoke(args=create_args()).exit_code == 0
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code == 0
    assert "demo data not loaded" in result.output
    assert popugs() == 1


def test_demo_seed_refuses_production(app, runner, monkeypatch):
    """Its admin's beak shape is public (`make run` prints it): never into a production database."""
    monkeypatch.setitem(app.config, "ATES_ENV", "production")
    result = runner.invoke(args=["demo", "seed"])
    assert result.exit_code != 0
    assert "runs only with ATES_ENV=development or testing" in result.output
    assert popugs() == 0
