import ast
import re
import subprocess
import sys
from pathlib import Path

from stack import packages, typeview

ROOT = Path(__file__).resolve().parent.parent
PARTS = ("emitter", "flink_jobs", "dash_app")
MAPPED = ("emitter", "schemas", "flink_jobs", "dash_app")
"""The folders installed as the package joulestream (pyproject.toml's package-dir)."""


def imported_modules(folder: str) -> set[str]:
    """Absolute import names of the modules (or their attributes) that a folder's code imports:
    ``from joulestream import schemas`` gives ``joulestream.schemas``."""
    names: set[str] = set()
    for path in (ROOT / folder).rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def imported_parts(folder: str) -> set[str]:
    """The repository folders whose code a folder imports, by the package mapping."""
    parts = {packages.part_of(name) for name in imported_modules(folder)}
    return {part for part in parts if part is not None}


def test_parts_do_not_import_each_other():
    """emitter, flink_jobs and dash_app share only schemas/, never each other's code."""
    crossings = {part: sorted(imported_parts(part) & (set(PARTS) - {part})) for part in PARTS}
    assert crossings == {part: [] for part in PARTS}


def test_the_mapping_is_the_documented_one():
    """emitter/ is the package joulestream, each other part its subpackage of the folder's name,
    and nothing but joulestream is installed (stack/, tests/, bench/ run from the repository)."""
    assert packages.package_dirs() == {
        "joulestream": "emitter",
        "joulestream.schemas": "schemas",
        "joulestream.flink_jobs": "flink_jobs",
        "joulestream.dash_app": "dash_app",
    }
    assert [p for p in packages.packages() if p.split(".")[0] != "joulestream"] == []


def test_every_package_folder_is_installed():
    """Each folder with an __init__.py under a mapped folder is in pyproject.toml's package
    list, and each listed package has its folder: a new subpackage missing from the list would
    work from the repository and be absent from the wheel."""
    on_disk = set()
    for mapped, folder in packages.package_dirs().items():
        for init in (ROOT / folder).rglob("__init__.py"):
            relative = init.parent.relative_to(ROOT / folder).parts
            if "__pycache__" not in relative:
                on_disk.add(".".join([mapped, *relative]))
    assert sorted(on_disk) == sorted(packages.packages())


def test_emitter_has_no_module_named_like_another_part():
    """joulestream.schemas (and the others) would be two things if emitter/ had one too."""
    clashes = [
        name
        for name in packages.package_dirs()
        if name != "joulestream"
        for path in (ROOT / "emitter").glob(name.rpartition(".")[2] + "*")
        if path.stem == name.rpartition(".")[2]
    ]
    assert clashes == []


def test_no_code_imports_a_folder_by_its_name():
    """emitter, schemas, flink_jobs and dash_app are not import names: from the repository's
    root they would still import, and fail once installed."""
    folders = ["stack", "tests", "bench", "examples", *MAPPED]
    found = {
        folder: sorted(n for n in imported_modules(folder) if n.split(".")[0] in MAPPED)
        for folder in folders
    }
    assert found == {folder: [] for folder in folders}


def test_importing_a_server_part_loads_nothing_of_the_tracker():
    """Every joulestream.* import runs emitter/__init__.py first; the Flink job's image has no
    confluent-kafka, so that file imports the tracker's modules only when they are used."""
    code = (
        "import sys, joulestream.schemas, joulestream.schemas.intensity\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('confluent_kafka', 'psutil', 'fastavro') or m.startswith('joulestream.tracker')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd="/"
    )
    assert result.stdout.strip() == "[]"


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


def module_strings_naming(root: Path, package: str, parts: set[str]) -> list[str]:
    """``file:line: 'text'`` for each string in ``package`` that is the import name of a module
    in one of ``parts`` (``"joulestream.flink_jobs"``, ``"joulestream.meters.rapl"``): what
    ``importlib.resources.files`` or ``import_module`` would open or load, which the import
    check cannot see. Docstrings are prose and left out, as above."""
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
                and re.fullmatch(r"joulestream(\.\w+)+", node.value)
                and packages.part_of(node.value, root) in parts
            ):
                found.append(f"{path.relative_to(root)}:{node.lineno}: {node.value!r}")
    return found


def test_parts_do_not_load_each_others_modules_or_resources_by_name():
    """No part loads another part's module or package data through a name in a string
    (``resources.files("joulestream.flink_jobs")``): the shared files are in schemas/."""
    crossings = {part: module_strings_naming(ROOT, part, set(PARTS) - {part}) for part in PARTS}
    assert crossings == {part: [] for part in PARTS}


def test_the_module_check_sees_a_resource_read_by_package_name(tmp_path):
    (tmp_path / "dash_app").mkdir()
    (tmp_path / "dash_app" / "table.py").write_text(
        "from importlib import resources\n"
        'TABLE = resources.files("joulestream.flink_jobs").joinpath("t.csv")\n'
        'OWN = resources.files("joulestream.dash_app.assets")\n'
        'METER = "joulestream.meters.rapl"\n'
    )
    (tmp_path / "pyproject.toml").write_text(
        (ROOT / "pyproject.toml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    assert module_strings_naming(tmp_path, "dash_app", {"emitter", "flink_jobs"}) == [
        "dash_app/table.py:2: 'joulestream.flink_jobs'",
        "dash_app/table.py:4: 'joulestream.meters.rapl'",
    ]


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


def test_the_type_check_view_lays_the_folders_out_as_installed(tmp_path):
    """mypy reads joulestream.schemas.intensity from schemas/intensity.py, and so on."""
    view = typeview.build(ROOT, tmp_path / "view")
    linked = {
        path.relative_to(view).as_posix(): path.resolve().relative_to(ROOT).as_posix()
        for path in view.rglob("*")
        if path.is_symlink()
    }
    assert linked["joulestream/__init__.py"] == "emitter/__init__.py"
    assert linked["joulestream/meters/rapl.py"] == "emitter/meters/rapl.py"
    assert linked["joulestream/schemas/intensity.py"] == "schemas/intensity.py"
    assert linked["joulestream/flink_jobs/pipeline.py"] == "flink_jobs/pipeline.py"
    assert linked["joulestream/dash_app/pages/run.py"] == "dash_app/pages/run.py"
    on_disk = {
        p.relative_to(ROOT).as_posix()
        for folder in MAPPED
        for p in (ROOT / folder).rglob("*.py")
        if "__pycache__" not in p.parts
    }
    assert {v for k, v in linked.items() if k.endswith(".py")} == on_disk
