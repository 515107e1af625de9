"""docs/architecture.md's blueprint table, checked: which blueprint may import which.
Dependencies point one way (analytics → tasks → auth → accounting, and tasks → accounting);
the table may not have a cycle, and any import it does not allow fails here, with the module
and the line."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).absolute().parents[1]
APP = ROOT / "app"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
TABLE_HEADER = "| blueprint | owns | may import |"


def allowed_imports(markdown: str) -> dict[str, set[str]]:
    """{blueprint: the blueprints it may import}, from the table under TABLE_HEADER: the
    backticked name of the first cell, and the backticked names of the last (a module
    such as `accounting.service` counts as its blueprint)."""
    lines = markdown.splitlines()
    start = lines.index(TABLE_HEADER) + 2  # past the header and its |---| line
    table = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        (blueprint,) = re.findall(r"`([^`]+)`", cells[0])
        table[blueprint] = {name.split(".")[0] for name in re.findall(r"`([^`]+)`", cells[-1])}
    return table


ALLOWED = allowed_imports(ARCHITECTURE.read_text())


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


def cycle(table: dict[str, set[str]]) -> list[str]:
    """A path of the table that comes back to where it began ([] when there is none)."""
    done: set[str] = set()

    def visit(name: str, path: list[str]) -> list[str]:
        if name in path:
            return path[path.index(name) :] + [name]
        if name in done:
            return []
        for other in sorted(table.get(name, ())):
            if found := visit(other, path + [name]):
                return found
        done.add(name)
        return []

    for name in sorted(table):
        if found := visit(name, []):
            return found
    return []


def test_blueprints_import_only_what_the_table_allows():
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


def test_the_table_points_one_way():
    assert cycle(ALLOWED) == []
    assert ALLOWED["accounting"] == set()  # the bottom layer


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


def test_the_table_reader_and_the_cycle_check():
    """The readers themselves: a table's names, modules counted as their blueprint, and a
    cycle found."""
    markdown = "\n".join(
        [
            "Intro.",
            "",
            TABLE_HEADER,
            "|---|---|---|",
            "| `low` | things | nothing |",
            "| `mid` | more | `low.service` (why) |",
            "| `top` | none | `mid` and `low` |",
            "",
            "| `ignored` | after the table | `top` |",
        ]
    )
    table = allowed_imports(markdown)
    assert table == {"low": set(), "mid": {"low"}, "top": {"mid", "low"}}
    assert cycle(table) == []
    table["low"] = {"top"}
    assert cycle(table) == ["low", "top", "low"]
