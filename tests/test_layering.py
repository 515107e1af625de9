"""docs/architecture.md's blueprint table, checked: which modules of other blueprints each
blueprint may import. Dependencies point one way (analytics → tasks → auth → accounting, and
tasks → accounting); the table may not have a cycle, and any import of another blueprint's
module that it does not list fails here, with the importing file and the line. And tests
never import bench/ (the benchmarks import what they share with tests from tests/support)."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).absolute().parents[1]
APP = ROOT / "app"
TESTS = ROOT / "tests"
ARCHITECTURE = ROOT / "docs" / "architecture.md"
TABLE_HEADER = "| blueprint | owns | may import |"


def allowed_imports(markdown: str) -> dict[str, set[str]]:
    """{blueprint: the other blueprints' modules it may import ("accounting.posting")}, from
    the table under TABLE_HEADER: the backticked name of the first cell, and the backticked
    names of the last."""
    lines = markdown.splitlines()
    start = lines.index(TABLE_HEADER) + 2  # past the header and its |---| line
    table = {}
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        (blueprint,) = re.findall(r"`([^`]+)`", cells[0])
        table[blueprint] = set(re.findall(r"`([^`]+)`", cells[-1]))
    return table


def blueprints_of(table: dict[str, set[str]]) -> dict[str, set[str]]:
    """{blueprint: the blueprints whose modules it may import}."""
    return {name: {module.split(".")[0] for module in modules} for name, modules in table.items()}


ALLOWED = allowed_imports(ARCHITECTURE.read_text())


def imported_modules(path: Path, app: Path = APP) -> list[tuple[str, int]]:
    """("<blueprint>.<module>", line) for each import of a blueprint's module in the file
    under `app` ("<blueprint>" alone for its package), relative imports that climb out of
    its package included."""
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
            elif len(module.split(".")) == 3 and module.startswith("app.blueprints."):
                modules = [f"{module}.{alias.name}" for alias in node.names]  # its modules
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[:2] == ["app", "blueprints"] and len(parts) > 2:
                found.append((".".join(parts[2:4]), node.lineno))
    return found


def bench_imports(path: Path) -> list[int]:
    """The lines of the file that import the `bench` package or one of its modules."""
    lines = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level:
            modules = [node.module or ""]
        else:
            continue
        if any(module.split(".")[0] == "bench" for module in modules):
            lines.append(node.lineno)
    return lines


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


def test_blueprints_import_only_the_modules_the_table_lists():
    problems = []
    for blueprint, allowed in ALLOWED.items():
        for path in sorted((APP / "blueprints" / blueprint).glob("*.py")):
            for module, line in imported_modules(path):
                if module.split(".")[0] != blueprint and module not in allowed:
                    problems.append(f"{path.relative_to(APP.parent)}:{line} imports {module}")
    assert problems == []


def test_the_table_lists_modules_that_exist():
    """Each name of the table is a blueprint's module, so a rename shows here."""
    listed = set().union(*ALLOWED.values())
    missing = {
        m
        for m in listed
        if not (APP / "blueprints" / m.replace(".", "/")).with_suffix(".py").exists()
    }
    assert missing == set()


def test_every_blueprint_is_in_the_table():
    blueprints = {p.name for p in (APP / "blueprints").iterdir() if (p / "__init__.py").exists()}
    assert blueprints == set(ALLOWED)


def test_the_table_points_one_way():
    assert cycle(blueprints_of(ALLOWED)) == []
    assert ALLOWED["accounting"] == set()  # the bottom layer


def test_access_rules_belong_to_no_blueprint():
    """app/access.py (who may do what) is imported by every blueprint's routes, so it imports
    none of them."""
    assert imported_modules(APP / "access.py") == []


def test_tests_never_import_bench():
    """What tests share with the benchmarks lives in tests/support, which bench/ imports;
    a test importing bench/ would tie the suite to the scripts."""
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in sorted(TESTS.rglob("*.py"))
        for line in bench_imports(path)
    ]
    assert found == []


def test_the_check_sees_bench_imports(tmp_path):
    """The checker itself: every way of importing bench, and names that only look like it."""
    probe = tmp_path / "test_probe.py"
    probe.write_text(
        "import bench\nfrom bench.load import Client\nimport bench.common as common\n"
        "from bench import bounds\nfrom tests.support.apps import bench_app\n"
        "import benchmark\nfrom .bench import x\n"
    )
    assert bench_imports(probe) == [1, 2, 3, 4]


def test_the_check_sees_forbidden_imports(tmp_path):
    """The checker itself: an accounting module importing tasks, absolutely and relatively."""
    probe = tmp_path / "app" / "blueprints" / "accounting" / "routes.py"
    probe.parent.mkdir(parents=True)
    probe.write_text(
        "from app.blueprints.tasks import queries\nfrom ..auth import service\n"
        "from app.blueprints.auth.models import Popug\nimport app.blueprints.tasks.shuffles\n"
    )
    assert imported_modules(probe, tmp_path / "app") == [
        ("tasks.queries", 1),
        ("auth.service", 2),
        ("auth.models", 3),
        ("tasks.shuffles", 4),
    ]


def test_the_table_reader_and_the_cycle_check():
    """The readers themselves: a table's modules, their blueprints, and a cycle found."""
    markdown = "\n".join(
        [
            "Intro.",
            "",
            TABLE_HEADER,
            "|---|---|---|",
            "| `low` | things | nothing |",
            "| `mid` | more | `low.service` (why) |",
            "| `top` | none | `mid.queries` and `low.posting` |",
            "",
            "| `ignored` | after the table | `top` |",
        ]
    )
    assert allowed_imports(markdown) == {
        "low": set(),
        "mid": {"low.service"},
        "top": {"mid.queries", "low.posting"},
    }
    table = blueprints_of(allowed_imports(markdown))
    assert table == {"low": set(), "mid": {"low"}, "top": {"mid", "low"}}
    assert cycle(table) == []
    table["low"] = {"top"}
    assert cycle(table) == ["low", "top", "low"]
