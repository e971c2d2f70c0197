"""Encrypted backups: a file only the holder of a passphrase can read (``crm-tui backup --encrypt``).

The ``cryptography`` library does the work: the key is derived from the passphrase with
scrypt (a fresh random salt per file), and the data is sealed with AES-256-GCM in chunks of
``CHUNK`` bytes, each chunk authenticated together with the file's header, its index and
whether it is the last one. A wrong passphrase, a flipped byte, a chunk moved, dropped or a
file cut short all fail authentication: ``decrypt_file`` then raises ``ValidationError`` and
what it was writing is removed.

File layout: ``MAGIC`` · header (scrypt log2 n, r, p; salt; nonce prefix) · chunks, each a
4-byte length and the sealed bytes (16 bytes of tag included).
"""

from __future__ import annotations

import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from crm_tui.errors import ValidationError

MAGIC = b"CRM-TUI encrypted backup 1\n"
CHUNK = 1 << 20
#: scrypt cost: 2**17 x 8 x 128 bytes = 128 MiB of memory, about a second; the values are
#: kept in each file, so a later version may raise them and still read older files
SCRYPT_LOG_N = 17
SCRYPT_R = 8
SCRYPT_P = 1
SALT_BYTES = 16
NONCE_PREFIX_BYTES = 7
MIN_PASSPHRASE = 8
_HEADER = struct.Struct(f">BBB{SALT_BYTES}s{NONCE_PREFIX_BYTES}s")
_LENGTH = struct.Struct(">I")
_TAG = 16


def is_encrypted(path: Path) -> bool:
    """Whether ``path`` starts like a file ``encrypt_file`` wrote."""
    try:
        with open(path, "rb") as handle:
            return handle.read(len(MAGIC)) == MAGIC
    except OSError:
        return False


def check_passphrase(passphrase: str) -> None:
    """A passphrase a new backup may be sealed with (one clear message otherwise)."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise ValidationError(f"the passphrase must have at least {MIN_PASSPHRASE} characters")


def _key(passphrase: str, salt: bytes, log_n: int, r: int, p: int) -> bytes:
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    if not (10 <= log_n <= 22 and 1 <= r <= 32 and 1 <= p <= 16):
        raise ValidationError("the file is not a crm-tui encrypted backup (its key parameters are out of range)")
    kdf = Scrypt(salt=salt, length=32, n=1 << log_n, r=r, p=p)
    return kdf.derive(passphrase.encode("utf-8"))


def _nonce(prefix: bytes, index: int, last: bool) -> bytes:
    return prefix + struct.pack(">I?", index, last)


def _aad(header: bytes, index: int, last: bool) -> bytes:
    return header + struct.pack(">I?", index, last)


def _chunks(handle: BinaryIO) -> Iterator[tuple[bytes, bool]]:
    """The file's bytes in ``CHUNK``s, each with whether it is the last (an empty file: one empty chunk)."""
    current = handle.read(CHUNK)
    while True:
        following = handle.read(CHUNK)
        yield current, not following
        if not following:
            return
        current = following


def encrypt_file(source: Path, dest: Path, passphrase: str) -> None:
    """Seal ``source`` into the new file ``dest`` (created 0600; it must not exist)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    check_passphrase(passphrase)
    salt = os.urandom(SALT_BYTES)
    prefix = os.urandom(NONCE_PREFIX_BYTES)
    header = MAGIC + _HEADER.pack(SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P, salt, prefix)
    aead = AESGCM(_key(passphrase, salt, SCRYPT_LOG_N, SCRYPT_R, SCRYPT_P))
    fd = os.open(dest, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
        out.write(header)
        for index, (plain, last) in enumerate(_chunks(src)):
            sealed = aead.encrypt(_nonce(prefix, index, last), plain, _aad(header, index, last))
            out.write(_LENGTH.pack(len(sealed)))
            out.write(sealed)
        out.flush()
        os.fsync(out.fileno())
    os.chmod(dest, 0o600)


def decrypt_file(source: Path, dest: Path, passphrase: str) -> None:
    """Open the sealed ``source`` into the new file ``dest`` (0600). A wrong passphrase or a
    damaged file → ``ValidationError``, and ``dest`` is removed again."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    fd = os.open(dest, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            if src.read(len(MAGIC)) != MAGIC:
                raise ValidationError(f"{source} is not a crm-tui encrypted backup")
            packed = src.read(_HEADER.size)
            if len(packed) != _HEADER.size:
                raise ValidationError(f"{source} is cut short; it cannot be restored")
            log_n, r, p, salt, prefix = _HEADER.unpack(packed)
            header = MAGIC + packed
            aead = AESGCM(_key(passphrase, salt, log_n, r, p))
            index = 0
            while True:
                length_bytes = src.read(_LENGTH.size)
                if len(length_bytes) != _LENGTH.size:
                    raise ValidationError(f"{source} is cut short or damaged; it cannot be restored")
                (length,) = _LENGTH.unpack(length_bytes)
                if not _TAG <= length <= CHUNK + _TAG:
                    raise ValidationError(f"{source} is damaged; it cannot be restored")
                sealed = src.read(length)
                last = src.peek(1) == b""
                try:
                    plain = aead.decrypt(_nonce(prefix, index, last), sealed, _aad(header, index, last))
                except InvalidTag:
                    if index == 0:
                        raise ValidationError(
                            f"wrong passphrase for {source} (or the file is damaged); nothing was restored"
                        ) from None
                    raise ValidationError(f"{source} is damaged or was altered; nothing was restored") from None
                out.write(plain)
                index += 1
                if last:
                    break
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        Path(dest).unlink(missing_ok=True)
        raise
