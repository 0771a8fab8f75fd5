"""Who may log in to the UI (RAG_AUTH), and password hashing.

RAG_AUTH is either
- `user:password` pairs separated by commas (`alice:pw1,bob:pw2`), for a quick local set-up, or
- the path of a users file: one `user:scrypt$N$r$p$salt$hash` line per user, `#` comments
  allowed; `python -m rag passwd NAME` prints such a line. Plain passwords are refused there,
  so a file that is copied or backed up never holds one.
Every problem is an InputError (a ValueError) naming RAG_AUTH and the entry or file line. Passwords are compared
in constant time, and a hashed one is checked with scrypt (stdlib hashlib, no extra dependency).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import os
from pathlib import Path

from .errors import InputError

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
_B64 = base64.urlsafe_b64encode


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or os.urandom(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=SCRYPT_N, r=SCRYPT_R,
                            p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_B64(salt).decode()}${_B64(digest).decode()}"


def _verify_hash(password: str, stored: str) -> bool:
    _, n, r, p, salt, digest = stored.split("$")
    expected = base64.urlsafe_b64decode(digest)
    got = hashlib.scrypt(password.encode("utf-8"), salt=base64.urlsafe_b64decode(salt),
                         n=int(n), r=int(r), p=int(p), dklen=len(expected),
                         maxmem=128 * int(r) * int(n) * 2)
    return hmac.compare_digest(got, expected)


def _is_hash(value: str) -> bool:
    parts = value.split("$")
    return len(parts) == 6 and parts[0] == "scrypt" and all(x.isdigit() for x in parts[1:4])


class Users:
    """The accounts RAG_AUTH names: `check(user, password)` is what the login calls."""

    def __init__(self, plain: dict[str, str], hashed: dict[str, str]):
        self._plain = plain
        self._hashed = hashed

    @property
    def names(self) -> list[str]:
        return sorted({*self._plain, *self._hashed})

    def check(self, user: str, password: str) -> bool:
        if user in self._hashed:
            return _verify_hash(password or "", self._hashed[user])
        expected = self._plain.get(user)
        # compare against something even for an unknown user: timing tells nothing
        ok = hmac.compare_digest((password or "").encode(), (expected or "\0").encode())
        return ok and expected is not None

    @classmethod
    def from_setting(cls, value: str | None) -> "Users | None":
        """None when RAG_AUTH is unset (no login: one local user)."""
        if not value:
            return None
        if Path(value).is_file():
            return cls._from_file(Path(value))
        plain: dict[str, str] = {}
        for entry in value.split(","):
            user, sep, password = entry.strip().partition(":")
            if not (user and sep and password):
                shown = entry.strip().split(":")[0] or entry.strip()
                raise InputError(f"RAG_AUTH: expected user:password pairs separated by commas, "
                                 f"or the path of a users file; {shown!r} is neither")
            if user in plain:
                raise InputError(f"RAG_AUTH: user {user!r} is listed twice")
            plain[user] = password
        return cls(plain, {})

    @classmethod
    def _from_file(cls, path: Path) -> "Users":
        hashed: dict[str, str] = {}
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"RAG_AUTH: cannot read users file {path} ({exc})") from None
        for number, line in enumerate(lines, start=1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, stored = line.partition(":")
            where = f"RAG_AUTH: users file {path}, line {number}"
            if not (user and sep and stored):
                raise InputError(f"{where}: expected user:scrypt$... "
                                 "(python -m rag passwd NAME prints one)")
            if not _is_hash(stored):
                raise InputError(f"{where}: the password of {user!r} is not hashed "
                                 "(python -m rag passwd NAME prints a hashed line)")
            if user in hashed:
                raise InputError(f"{where}: user {user!r} is listed twice")
            hashed[user] = stored
        if not hashed:
            raise InputError(f"RAG_AUTH: users file {path} lists no users")
        return cls({}, hashed)
