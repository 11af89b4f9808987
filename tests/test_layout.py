import ast
import re
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


def path_strings_naming(root: Path, package: str, folders: set[str]) -> list[str]:
    """``file:line: 'text'`` for each string in ``package`` with one of ``folders`` as a path
    component (``"flink_jobs"``, ``"../dash_app/x.csv"``). Bare string statements (docstrings)
    are prose, never a value the code uses, so they are left out."""
    found: list[str] = []
    for path in sorted((root / package).rglob("*.py")):
        tree = ast.parse(path.read_text())
        prose = {
            id(node.value)
            for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        }
        for node in sorted(ast.walk(tree), key=lambda n: getattr(n, "lineno", 0)):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in prose
                and set(re.split(r"[/\\]", node.value)) & folders
            ):
                found.append(f"{path.relative_to(root)}:{node.lineno}: {node.value!r}")
    return found


def test_parts_do_not_read_each_others_files_by_path():
    """What two parts share lives in schemas/ (the Avro contract, the intensity table): no part
    opens a file in another part's folder, as the dashboard once read the job's CSV."""
    crossings = {part: path_strings_naming(ROOT, part, set(PARTS) - {part}) for part in PARTS}
    assert crossings == {part: [] for part in PARTS}


def test_the_path_check_sees_a_path_built_from_folder_names(tmp_path):
    """The check catches the way the dashboard used to find the job's table."""
    (tmp_path / "dash_app").mkdir()
    (tmp_path / "dash_app" / "table.py").write_text(
        '"""Reads flink_jobs/data as prose only."""\n'
        "from pathlib import Path\n"
        'TABLE = Path(__file__).parent.parent / "flink_jobs" / "data" / "t.csv"\n'
        'OTHER = f"{Path.cwd()}/emitter/meters/data/cpu_tdp.csv"\n'
    )
    assert path_strings_naming(tmp_path, "dash_app", {"emitter", "flink_jobs"}) == [
        "dash_app/table.py:3: 'flink_jobs'",
        "dash_app/table.py:4: '/emitter/meters/data/cpu_tdp.csv'",
    ]
