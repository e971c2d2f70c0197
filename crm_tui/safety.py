"""Privacy of the database files on shared machines (stdlib only).

A crm-tui database is created 0600 in a 0700 folder. A database that already
exists may have been copied or created by hand with looser modes; opening it
then warns (``Database.permission_warning``) and ``crm-tui doctor --fix``
tightens it. SQLite's side files (``-wal``, ``-shm``, ``-journal``) hold the
same data and are checked too.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

FILE_MODE = 0o600
FOLDER_MODE = 0o700
SIDE_SUFFIXES = ("-wal", "-shm", "-journal")


def database_files(path: Path) -> list[Path]:
    """The database file and whichever of its side files exist now."""
    path = Path(path)
    files = [path] if path.exists() else []
    files += [p for p in (Path(f"{path}{s}") for s in SIDE_SUFFIXES) if p.exists()]
    return files


def _mode(path: Path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def _folder_fixable(folder: Path) -> str:
    """Why ``folder`` must not be chmodded 0700, or '' when it may be."""
    st = os.stat(folder)
    if st.st_mode & stat.S_ISVTX:
        return "it is a shared folder (sticky bit, like /tmp)"
    if hasattr(os, "geteuid") and st.st_uid != os.geteuid():
        return "it belongs to another user"
    try:
        resolved = folder.resolve()
        if resolved == Path.home().resolve():
            return "it is your home folder"
        if resolved == Path(resolved.anchor):
            return "it is the root folder"
    except (OSError, RuntimeError):
        pass
    return ""


def check_permissions(path: Path) -> list[str]:
    """One line per file or folder that other users can reach; [] when private.

    Each line says what is wrong and how to fix it.
    """
    path = Path(path)
    problems = []
    for file in database_files(path):
        mode = _mode(file)
        if mode & 0o077:
            problems.append(
                f"{file} is readable or writable by other users (mode {mode:04o}); "
                f"run `crm-tui doctor --fix` or `chmod 600 {file}`"
            )
    folder = path.parent
    if folder.exists():
        mode = _mode(folder)
        if mode & 0o077:
            why_not = _folder_fixable(folder)
            fix = (
                f"move the database into a private folder ({why_not})"
                if why_not
                else f"run `crm-tui doctor --fix` or `chmod 700 {folder}`"
            )
            problems.append(f"folder {folder} is open to other users (mode {mode:04o}); {fix}")
    return problems


def permission_warning(path: Path) -> str:
    """``check_permissions`` as one line for a status bar or stderr, or ''."""
    problems = check_permissions(path)
    if not problems:
        return ""
    if len(problems) == 1:
        return f"privacy: {problems[0]}"
    return f"privacy: {len(problems)} problems, e.g. {problems[0]}"


def fix_permissions(path: Path) -> tuple[list[str], list[str]]:
    """Make the database files 0600 and their folder 0700.

    Returns (what was fixed, what was left and why). A folder that is shared,
    someone else's, your home or the root is left alone.
    """
    path = Path(path)
    fixed, left = [], []
    for file in database_files(path):
        mode = _mode(file)
        if mode & 0o077:
            try:
                os.chmod(file, FILE_MODE)
                fixed.append(f"{file}: {mode:04o} → {FILE_MODE:04o}")
            except OSError as exc:
                left.append(f"{file}: cannot chmod ({exc.strerror or exc})")
    folder = path.parent
    if folder.exists():
        mode = _mode(folder)
        if mode & 0o077:
            why_not = _folder_fixable(folder)
            if why_not:
                left.append(f"folder {folder} left as is: {why_not}; move the database into a private folder")
            else:
                try:
                    os.chmod(folder, FOLDER_MODE)
                    fixed.append(f"folder {folder}: {mode:04o} → {FOLDER_MODE:04o}")
                except OSError as exc:
                    left.append(f"folder {folder}: cannot chmod ({exc.strerror or exc})")
    return fixed, left
