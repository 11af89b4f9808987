"""What the project's code expects of its environment, read from the source itself.

Nothing here is a hand-written list: a new setting or import in the code shows up in the checks.
"""

import ast
import re
import sys
from importlib.metadata import packages_distributions

import tomllib

from stack import packages
from stack.settings import REPO_ROOT

LOCAL_PACKAGES = {packages.ROOT_PACKAGE, "stack"}
"""Top-level import names of this repository's code (joulestream maps onto several folders)."""


def _is_environ(node: ast.AST) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "environ"
        and isinstance(node.value, ast.Name)
        and node.value.id == "os"
    )


def _first_str(call: ast.Call) -> str | None:
    if call.args and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str):
        return call.args[0].value
    return None


def env_reads_in(source: str) -> set[str]:
    """Names read by ``os.environ.get``, ``os.getenv``, ``os.environ[...]`` or ``.get`` on a name
    bound to an expression involving ``os.environ`` (``e = os.environ if env is None else env``)."""
    tree = ast.parse(source)
    env_names = {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and any(_is_environ(n) for n in ast.walk(node.value))
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    reads = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            receiver = node.func.value
            is_env = _is_environ(receiver) or (
                isinstance(receiver, ast.Name) and receiver.id in env_names
            )
            getenv = isinstance(receiver, ast.Name) and receiver.id == "os"
            if (node.func.attr == "get" and is_env) or (node.func.attr == "getenv" and getenv):
                name = _first_str(node)
                if name is not None:
                    reads.add(name)
        elif (
            isinstance(node, ast.Subscript)
            and _is_environ(node.value)
            and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)
        ):
            reads.add(node.slice.value)
    return reads


def env_reads(folder: str) -> set[str]:
    """Every environment variable the code in a folder of this repository reads (``emitter``,
    ``flink_jobs``, ...)."""
    return set().union(*(env_reads_in(p.read_text()) for p in (REPO_ROOT / folder).rglob("*.py")))


def documented_defaults() -> set[str]:
    """Variables in README.md's Configuration table (each has a documented default there)."""
    text = (REPO_ROOT / "README.md").read_text()
    section = text.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in re.findall(r"`([A-Z][A-Z0-9_]+)`", row.split("|")[1])}


def third_party_imports(*entry_modules: str) -> set[str]:
    """Top-level names of the non-standard, non-local modules that ``entry_modules`` import,
    following the imports of this repository's own modules transitively."""
    seen: set[str] = set()
    todo = list(entry_modules)
    found: set[str] = set()
    while todo:
        module = todo.pop()
        path = packages.module_file(module)
        if module in seen or path is None:
            continue
        seen.add(module)
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = node.module or ""
                if node.level:
                    source = ".".join(
                        [*package.split(".")[: len(package.split(".")) - node.level + 1], source]
                    ).strip(".")
                names = [source, *(f"{source}.{alias.name}" for alias in node.names)]
            for name in names:
                top = name.split(".")[0]
                if top in LOCAL_PACKAGES:
                    todo.append(name)
                    todo.append(top)
                elif top and top not in sys.stdlib_module_names:
                    found.add(top)
    return found


def distributions(import_names: set[str]) -> set[str]:
    """The installed distributions (normalised names) that provide these top-level modules."""
    provided = packages_distributions()
    return {normalise(dist) for name in import_names for dist in provided.get(name, [name])}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pyproject() -> dict[str, object]:
    with (REPO_ROOT / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def locked_versions() -> dict[str, str]:
    """requirements.lock: normalised name → the version `make` and the images install."""
    pins = {}
    for line in (REPO_ROOT / "requirements.lock").read_text().splitlines():
        name, sep, version = line.partition("==")
        if sep and not line.startswith("#"):
            pins[normalise(name)] = version.strip()
    return pins


def requirement_name(requirement: str) -> str:
    """The normalised distribution name of a requirement (``dash>=4.4,<5`` → ``dash``)."""
    match = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
    assert match is not None, requirement
    return normalise(match.group(0))


def project_requirements(extras: set[str]) -> set[str]:
    """The distributions ``pip install '.[extras]'`` asks for directly: the project's own
    dependencies and those of the extras, an extra that names the project itself followed."""
    project = pyproject()["project"]
    assert isinstance(project, dict)
    names: set[str] = set()
    todo, seen = [None, *sorted(extras)], set()
    while todo:
        extra = todo.pop()
        if extra in seen:
            continue
        seen.add(extra)
        extras_table = project["optional-dependencies"]
        listed = project["dependencies"] if extra is None else extras_table[extra]
        for requirement in listed:
            name = requirement_name(requirement)
            if name == normalise(project["name"]):
                todo.extend(re.findall(r"[\w-]+", requirement.partition("[")[2]))
            else:
                names.add(name)
    return names
