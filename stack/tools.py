"""Check that the programs the stack runs are installed, with a one-line fix when they are not."""

import shutil

from stack.errors import MissingToolError

# The Debian package that provides each program.
_PACKAGES = {
    "java": "openjdk-17-jre-headless",
    "javac": "openjdk-17-jdk-headless",
    "mvn": "maven",
    "go": "golang",
    "patch": "patch",
}


def require(program: str) -> str:
    """Return the path of ``program`` or raise MissingToolError naming the package to install."""
    path = shutil.which(program)
    if path is None:
        package = _PACKAGES.get(program, program)
        raise MissingToolError(
            f"'{program}' not found on PATH: install it (Debian/Ubuntu: apt-get install {package})"
        )
    return path
