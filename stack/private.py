"""Files and folders of the local stack that only their owner can read.

Logs, data, configurations and the demo's spool live under ``StackSettings.home``; on a machine
shared with other users none of it is theirs to read. Folders are 0700 and files 0600, whatever
the caller's umask: what this process writes goes through these helpers, and the services it
starts run with ``UMASK``.
"""

import contextlib
import os
import stat
from pathlib import Path
from typing import BinaryIO

UMASK = 0o077
"""The umask of every process the stack starts: what they create is their owner's only."""
DIR_MODE = 0o700
FILE_MODE = 0o600


def make_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents as 0700 folders; an existing ``path`` is made
    0700 too (parents that existed before are left as they are)."""
    missing = [p for p in (path, *path.parents) if not p.exists()]
    for folder in reversed(missing):
        folder.mkdir(mode=DIR_MODE, exist_ok=True)
        folder.chmod(DIR_MODE)
    path.chmod(DIR_MODE)
    return path


def write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` as a 0600 file (an existing file loses its other bits too)."""
    make_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    with os.fdopen(fd, "w") as file:
        os.fchmod(fd, FILE_MODE)
        file.write(text)


def open_append(path: Path) -> BinaryIO:
    """``path`` opened for appending bytes, created 0600."""
    make_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    os.fchmod(fd, FILE_MODE)
    return os.fdopen(fd, "ab")


def tighten(root: Path) -> None:
    """Make ``root`` and everything under it private: 0700 folders, files without group or
    other bits. For folders written before the stack made its files private."""
    if not root.exists():
        return
    root.chmod(DIR_MODE)
    for folder, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            # A running service may delete a file between the listing and the chmod.
            with contextlib.suppress(FileNotFoundError):
                _tighten_one(Path(folder, name))


def _tighten_one(path: Path) -> None:
    mode = path.lstat().st_mode  # a symbolic link is left alone, and so is its target
    if stat.S_ISDIR(mode):
        path.chmod(DIR_MODE)
    elif stat.S_ISREG(mode) and mode & 0o077:
        path.chmod(stat.S_IMODE(mode) & ~0o077)
