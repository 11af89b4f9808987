import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("emitter", "flink_jobs", "dash_app")


def imported_top_level_modules(package: str) -> set[str]:
    names: set[str] = set()
    for path in (ROOT / package).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names


def test_parts_do_not_import_each_other():
    """emitter, flink_jobs and dash_app share only schemas/, never each other's code."""
    crossings = {
        part: sorted(imported_top_level_modules(part) & (set(PARTS) - {part})) for part in PARTS
    }
    assert crossings == {part: [] for part in PARTS}
