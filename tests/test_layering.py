"""The README's architecture table, checked: which blueprint may import which. Dependencies
point one way (analytics → tasks → auth → accounting, and tasks → accounting); anything the
table does not allow fails here, with the module and the line."""

import ast
from pathlib import Path

APP = Path(__file__).absolute().parents[1] / "app"
# blueprint -> the other blueprints its modules may import (README, "Architecture")
ALLOWED = {
    "accounting": set(),
    "auth": {"accounting"},
    "tasks": {"auth", "accounting"},
    "analytics": {"tasks", "accounting"},
}


def imported_blueprints(path: Path, app: Path = APP) -> list[tuple[str, int]]:
    """(blueprint, line) for each import of app.blueprints.<name> in the module under `app`,
    relative imports that climb out of its package included."""
    found = []
    package = path.relative_to(app.parent).with_suffix("").parts[:-1]  # app.blueprints.<bp>
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = list(package[: len(package) - node.level + 1]) if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            modules = [module] if node.module else [f"{module}.{a.name}" for a in node.names]
            if module == "app.blueprints":
                modules = [f"app.blueprints.{alias.name}" for alias in node.names]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[:2] == ["app", "blueprints"] and len(parts) > 2:
                found.append((parts[2], node.lineno))
    return found


def test_blueprints_import_only_what_the_readme_allows():
    problems = []
    for blueprint, allowed in ALLOWED.items():
        for path in sorted((APP / "blueprints" / blueprint).glob("*.py")):
            for other, line in imported_blueprints(path):
                if other != blueprint and other not in allowed:
                    problems.append(f"{path.relative_to(APP.parent)}:{line} imports {other}")
    assert problems == []


def test_every_blueprint_is_in_the_table():
    blueprints = {p.name for p in (APP / "blueprints").iterdir() if (p / "__init__.py").exists()}
    assert blueprints == set(ALLOWED)


def test_access_rules_belong_to_no_blueprint():
    """app/access.py (who may do what) is imported by every blueprint's routes, so it imports
    none of them."""
    assert imported_blueprints(APP / "access.py") == []


def test_the_check_sees_forbidden_imports(tmp_path):
    """The checker itself: an accounting module importing tasks, absolutely and relatively."""
    probe = tmp_path / "app" / "blueprints" / "accounting" / "routes.py"
    probe.parent.mkdir(parents=True)
    probe.write_text("from app.blueprints.tasks import queries\nfrom ..auth import service\n")
    assert imported_blueprints(probe, tmp_path / "app") == [("tasks", 1), ("auth", 2)]
