"""``python -m stack.typeview``: the installed package's layout, as links, for the type checker.

The code imports ``joulestream.*``, but the folders are emitter/, schemas/, flink_jobs/ and
dash_app/ (the mapping of pyproject.toml). The editable install resolves the names with an import
hook, which mypy cannot follow, so mypy reads this view instead: ``build/typecheck/joulestream/``
with a link per source file of every listed package, to the file in the repository. It is made
again each time (`make lint`, `make install`), so a new module shows up; mypy's messages name
``build/typecheck/joulestream/<module path>``, the file under the mapped folder.
"""

import shutil
import sys
from pathlib import Path

from stack import packages
from stack.settings import REPO_ROOT

VIEW = REPO_ROOT / "build" / "typecheck"
LINKED = ("*.py", "py.typed")


def build(root: Path = REPO_ROOT, view: Path | None = None) -> Path:
    """Make the view afresh; return its folder (the one to put on mypy's path)."""
    view = view if view is not None else root / "build" / "typecheck"
    shutil.rmtree(view, ignore_errors=True)
    for package in packages.packages(root):
        source = packages.source_dir(package, root)
        if not source.is_dir():
            raise FileNotFoundError(f"package {package}: no folder {source}")
        target = view.joinpath(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for pattern in LINKED:
            for path in sorted(source.glob(pattern)):
                (target / path.name).symlink_to(path.resolve())
    return view


def main() -> int:
    view = build()
    print(f"type-check view of the joulestream package: {view}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
