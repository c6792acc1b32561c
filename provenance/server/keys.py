"""API keys for the HTTP API's authenticated calls, kept in the ledger as their sha256.

A key is shown once, when it is created; the ledger holds its hash, a short
prefix (to tell keys apart in `apikeys list`) and when it was used last.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import select

from ..errors import ProvenanceError
from ..ledger import Ledger
from ..ledger.models import ApiKey, utcnow

KEY_PREFIX = "prov_"


class ApiKeyError(ProvenanceError):
    """An API key command failed (unknown key, bad name)."""


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "created_at": _iso(self.created_at),
            "last_used_at": _iso(self.last_used_at),
            "revoked": self.revoked_at is not None,
            "revoked_at": _iso(self.revoked_at),
        }


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    # SQLite hands back naive datetimes for timezone-aware columns; they were written in UTC.
    return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat()


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _info(row: ApiKey) -> KeyInfo:
    return KeyInfo(row.id, row.name, row.prefix, row.created_at, row.last_used_at, row.revoked_at)


def create_key(ledger: Ledger, name: str) -> tuple[KeyInfo, str]:
    """A new key named `name`: its record and the key itself (never stored, never shown again)."""
    name = name.strip()
    if not name or len(name) > 128:
        raise ApiKeyError("an API key needs a name of 1 to 128 characters")
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    with ledger.session() as s, s.begin():
        row = ApiKey(name=name, prefix=key[: len(KEY_PREFIX) + 6], key_sha256=_digest(key), created_at=utcnow())
        s.add(row)
        s.flush()
        info = _info(row)
    return info, key


def list_keys(ledger: Ledger) -> list[KeyInfo]:
    with ledger.session() as s:
        return [_info(r) for r in s.scalars(select(ApiKey).order_by(ApiKey.id))]


def revoke_key(ledger: Ledger, key_id: int) -> KeyInfo:
    with ledger.session() as s, s.begin():
        row = s.get(ApiKey, key_id)
        if row is None:
            raise ApiKeyError(f"no API key with id {key_id}")
        if row.revoked_at is None:
            row.revoked_at = utcnow()
        return _info(row)


def authenticate(ledger: Ledger, key: str) -> KeyInfo | None:
    """The key's record if it is known and not revoked, else None. Marks it used."""
    if not key.startswith(KEY_PREFIX) or len(key) > 100:
        return None
    with ledger.session() as s, s.begin():
        row = s.scalar(select(ApiKey).where(ApiKey.key_sha256 == _digest(key)))
        # The lookup is by hash, so its timing says nothing about how much of a guessed key was right.
        if row is None or row.revoked_at is not None:
            return None
        row.last_used_at = utcnow()
        return _info(row)
