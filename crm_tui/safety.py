"""Privacy of the database files on shared machines, and what may be written over what (stdlib only).

A crm-tui database is created 0600 in a 0700 folder. A database that already
exists may have been copied or created by hand with looser modes; opening it
then warns (``Database.permission_warning``) and ``crm-tui doctor --fix``
tightens it. SQLite's side files (``-wal``, ``-shm``, ``-journal``) hold the
same data and are checked too.

``check_output`` is the one rule every command and dialog that writes a file
(export, rejected rows, backup, copy) goes through: never onto the open
database or its side files, and never onto another SQLite file unless forced.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from crm_tui.errors import ValidationError

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


# --- what a command may write over ------------------------------------------------

SQLITE_HEADER = b"SQLite format 3\x00"
WAL_MAGIC = (b"\x37\x7f\x06\x82", b"\x37\x7f\x06\x83")
JOURNAL_MAGIC = b"\xd9\xd5\x05\xf9\x20\xa1\x63\xd7"
_SIDE_NAMES = {"-wal": "write-ahead log", "-shm": "shared-memory index", "-journal": "rollback journal"}


def sqlite_kind(path: Path) -> str:
    """What SQLite file ``path`` is by its first bytes ('database', 'write-ahead log',
    'rollback journal'), or '' for anything else (a missing or unreadable file included).

    The header, not the name, decides: a database called ``report.csv`` is still a database."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(len(SQLITE_HEADER))
    except OSError:
        return ""
    if head.startswith(SQLITE_HEADER):
        return "database"
    if head[:4] in WAL_MAGIC:
        return "write-ahead log"
    if head.startswith(JOURNAL_MAGIC):
        return "rollback journal"
    return ""


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file: the same device and inode when both exist (hard links,
    symlinks, ``..`` and bind mounts included), else the same real path."""
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist (yet)
        return os.path.realpath(a) == os.path.realpath(b)


def _database_part(target: Path, database: Path) -> str:
    """'' unless ``target`` is ``database`` or one of its side files; else which one."""
    if same_file(target, database):
        return "the open database"
    for suffix, name in _SIDE_NAMES.items():
        if same_file(target, Path(f"{database}{suffix}")):
            return f"the open database's {name}"
    return ""


def _side_file_of_a_database(target: Path) -> str:
    """'' unless ``target`` is named like a side file of an existing SQLite database (a
    shared-memory index has no header of its own)."""
    for suffix, name in _SIDE_NAMES.items():
        if target.name.endswith(suffix):
            base = target.with_name(target.name[: -len(suffix)])
            if sqlite_kind(base) == "database":
                return f"the {name} of the SQLite database {base}"
    return ""


def output_refusal(
    target: Path, *, database: Path | None = None, what: str = "file", force: bool = False, sqlite_ok: bool = False
) -> str:
    """Why ``what`` must not be written to ``target``, or '' when it may.

    ``database`` is the open SQLite database (None on a server): it and its side files are
    never written over, not even with ``force`` — that would corrupt the database in use.
    Any other SQLite file is refused unless ``force``; ``sqlite_ok`` is for a copy, whose
    target is a database by design.
    """
    target = Path(target).expanduser()
    if database is not None:
        part = _database_part(target, Path(database))
        if part:
            return f"{target} is {part} ({database}); writing the {what} there would destroy it; choose another file"
    if sqlite_ok or force:
        return ""
    kind = sqlite_kind(target) if target.is_file() else ""
    found = f"a SQLite {kind}" if kind else _side_file_of_a_database(target)
    if found:
        return (
            f"{target} is {found}; writing the {what} there would destroy it; "
            "choose another file, or add --force to replace it"
        )
    return ""


def check_output(
    target: Path,
    *,
    database: Path | None = None,
    what: str = "file",
    force: bool = False,
    sqlite_ok: bool = False,
    field: str | None = None,
) -> None:
    """``output_refusal`` as a ``ValidationError``, raised before anything is written."""
    why = output_refusal(target, database=database, what=what, force=force, sqlite_ok=sqlite_ok)
    if why:
        raise ValidationError(why, field=field)


def check_output_stream(fileno: int, *, database: Path | None, what: str = "file") -> None:
    """Refuse to write to an open file (stdout redirected with ``>>``) that is the open
    database or one of its side files, compared by device and inode."""
    if database is None:
        return
    try:
        st = os.fstat(fileno)
    except OSError:
        return
    if not stat.S_ISREG(st.st_mode):
        return
    for candidate in (Path(database), *(Path(f"{database}{s}") for s in _SIDE_NAMES)):
        try:
            other = os.stat(candidate)
        except OSError:
            continue
        if (other.st_dev, other.st_ino) == (st.st_dev, st.st_ino):
            raise ValidationError(
                f"the output is the open database's file {candidate}; writing the {what} there would destroy it; "
                "write to another file with -o FILE"
            )
