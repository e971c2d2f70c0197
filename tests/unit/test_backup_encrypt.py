"""``crm-tui backup --encrypt`` and ``crm-tui restore``: in-process through ``cli.main``."""

from __future__ import annotations

import io
import json

import pytest

from crm_tui import backup_crypto, cli
from crm_tui.db import Database

PHRASE = "correct horse battery"


@pytest.fixture(autouse=True)
def _cheap_scrypt(monkeypatch):
    # the real cost (128 MiB, ~0.5 s) only slows the tests; the parameters are kept in the file
    monkeypatch.setattr(backup_crypto, "SCRYPT_LOG_N", 12)


@pytest.fixture
def small_db(tmp_path):
    from crm_tui import demo

    path = tmp_path / "crm.sqlite3"
    db = Database.open(str(path))
    demo.generate(db, size=40, seed=5)
    db.close()
    return path


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def report(capsys, path) -> dict:
    code, out, _ = run(capsys, "--db", str(path), "report", "--format", "json")
    assert code == 0
    return json.loads(out)


def test_encrypted_backup_round_trips_to_the_same_report(small_db, tmp_path, capsys):
    key = tmp_path / "key.txt"
    key.write_text(PHRASE + "\n")
    dest = tmp_path / "b" / "crm.sqlite3.enc"
    code, out, err = run(capsys, "--db", str(small_db), "backup", "--encrypt", "--passphrase-file", str(key), str(dest))
    assert code == 0, err
    assert out.strip() == str(dest)
    assert dest.stat().st_mode & 0o777 == 0o600
    sealed = dest.read_bytes()
    assert sealed.startswith(backup_crypto.MAGIC)
    assert b"SQLite format 3" not in sealed and b"customer" not in sealed
    assert [p.name for p in dest.parent.iterdir()] == [dest.name]  # no plain copy left beside it

    restored = tmp_path / "restored" / "crm.sqlite3"
    code, out, err = run(capsys, "restore", str(dest), "--to", str(restored), "--passphrase-file", str(key))
    assert code == 0, err
    assert restored.stat().st_mode & 0o777 == 0o600
    assert report(capsys, restored) == report(capsys, small_db)

    # never over an existing database
    code, _, err = run(capsys, "restore", str(dest), "--to", str(restored), "--passphrase-file", str(key))
    assert code == 2 and "already exists" in err


def test_without_the_passphrase_nothing_is_restored(small_db, tmp_path, capsys, monkeypatch):
    dest = tmp_path / "crm.sqlite3.enc"
    monkeypatch.setattr("sys.stdin", io.StringIO(PHRASE + "\n"))
    assert run(capsys, "--db", str(small_db), "backup", "--encrypt", str(dest))[0] == 0
    target = tmp_path / "out" / "crm.sqlite3"
    monkeypatch.setattr("sys.stdin", io.StringIO("not the passphrase\n"))
    code, _, err = run(capsys, "restore", str(dest), "--to", str(target))
    assert code == 2
    assert err.count("\n") == 1 and "wrong passphrase" in err and "Traceback" not in err
    assert not target.exists() and list(target.parent.iterdir()) == []

    # a byte changed in the middle: refused too
    data = bytearray(dest.read_bytes())
    data[len(data) // 2] ^= 1
    dest.write_bytes(bytes(data))
    monkeypatch.setattr("sys.stdin", io.StringIO(PHRASE + "\n"))
    code, _, err = run(capsys, "restore", str(dest), "--to", str(target))
    assert code == 2 and "nothing was restored" in err
    assert not target.exists()


def test_a_short_passphrase_writes_nothing(small_db, tmp_path, capsys, monkeypatch):
    dest = tmp_path / "crm.sqlite3.enc"
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    code, _, err = run(capsys, "--db", str(small_db), "backup", "--encrypt", str(dest))
    assert code == 2 and "at least" in err
    assert list(tmp_path.glob("*.enc*")) == [] and list(tmp_path.glob(".*partial")) == []


def test_a_file_cut_short_is_refused(tmp_path):
    plain = tmp_path / "plain"
    plain.write_bytes(b"x" * (backup_crypto.CHUNK * 2 + 10))
    sealed = tmp_path / "sealed"
    backup_crypto.encrypt_file(plain, sealed, PHRASE)
    whole = sealed.read_bytes()
    sealed.write_bytes(whole[: len(whole) - (backup_crypto.CHUNK // 2)])
    with pytest.raises(backup_crypto.ValidationError, match="cut short|damaged"):
        backup_crypto.decrypt_file(sealed, tmp_path / "out", PHRASE)
    # the last chunk dropped whole: the one before it was not sealed as the last
    first_two = len(backup_crypto.MAGIC) + backup_crypto._HEADER.size + 2 * (4 + backup_crypto.CHUNK + 16)
    sealed.write_bytes(whole[:first_two])
    with pytest.raises(backup_crypto.ValidationError, match="damaged"):
        backup_crypto.decrypt_file(sealed, tmp_path / "out", PHRASE)
    assert not (tmp_path / "out").exists()
    sealed.write_bytes(whole)
    backup_crypto.decrypt_file(sealed, tmp_path / "out", PHRASE)
    assert (tmp_path / "out").read_bytes() == plain.read_bytes()
