"""The repository's folders as import names: pyproject.toml's package list and package-dir.

emitter/ is the package ``joulestream``, schemas/ is ``joulestream.schemas``, flink_jobs/ and
dash_app/ are ``joulestream.flink_jobs`` and ``joulestream.dash_app``. setuptools installs them so
(an editable install maps the names onto the folders with an import hook); the checks of the
layering (tests/test_layout.py), the Kubernetes manifests (tests/k8s/code.py), the type checker's
view (``stack.typeview``) and the wheel check (``stack.wheelcheck``) read the mapping from here.
"""

from pathlib import Path
from typing import Any

import tomllib

from stack.settings import REPO_ROOT

ROOT_PACKAGE = "joulestream"


def pyproject(root: Path = REPO_ROOT) -> dict[str, Any]:
    with (root / "pyproject.toml").open("rb") as f:
        return tomllib.load(f)


def package_dirs(root: Path = REPO_ROOT) -> dict[str, str]:
    """``[tool.setuptools.package-dir]``: import name → folder, relative to the root."""
    mapping: dict[str, str] = pyproject(root)["tool"]["setuptools"]["package-dir"]
    return dict(mapping)


def packages(root: Path = REPO_ROOT) -> list[str]:
    """``[tool.setuptools] packages``: every installed package, by import name."""
    listed: list[str] = pyproject(root)["tool"]["setuptools"]["packages"]
    return list(listed)


def source_dir(package: str, root: Path = REPO_ROOT) -> Path:
    """The folder of ``package`` (an import name), as setuptools finds it: the longest mapped
    prefix's folder, then the rest of the name as subfolders."""
    mapping = package_dirs(root)
    parts = package.split(".")
    for length in range(len(parts), 0, -1):
        prefix = ".".join(parts[:length])
        if prefix in mapping:
            return root.joinpath(mapping[prefix], *parts[length:])
    return root.joinpath(*parts)


def part_of(module: str, root: Path = REPO_ROOT) -> str | None:
    """The repository folder (``emitter``, ``schemas``, ...) of an import name, or None when it
    is not one of the mapped packages (``stack``, a third-party module)."""
    mapping = package_dirs(root)
    parts = module.split(".")
    for length in range(len(parts), 0, -1):
        prefix = ".".join(parts[:length])
        if prefix in mapping:
            return mapping[prefix]
    return None


def module_file(module: str, root: Path = REPO_ROOT) -> Path | None:
    """The source file of a module named by import name (mapped or not), if it exists."""
    base = source_dir(module, root)
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None
