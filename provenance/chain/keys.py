"""Signing keys: an encrypted keystore or the environment, never argv or logs.

Two keys, two accounts: the **issuer** key signs metadata and mints; the
**admin** key (the registry's DEFAULT_ADMIN_ROLE) deploys, grants and revokes
issuers, revokes certificates for abuse and approves re-issues. The registry
refuses one account holding both roles, so a stolen issuer key cannot grant
itself more, and the admin key can stay offline between those rare acts.

| key | environment | keystore (config.toml / environment) | password |
| --- | --- | --- | --- |
| issuer | `PROVENANCE_PRIVATE_KEY` | `keystore` / `PROVENANCE_KEYSTORE` | `PROVENANCE_KEYSTORE_PASSWORD` or a prompt |
| admin | `PROVENANCE_ADMIN_PRIVATE_KEY` | `admin_keystore` / `PROVENANCE_ADMIN_KEYSTORE` | `PROVENANCE_ADMIN_KEYSTORE_PASSWORD` or a prompt |

On a local development chain the well-known anvil accounts stand in: the first
is the issuer, the second the admin. Their keys are public.
"""

from __future__ import annotations

import getpass
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import is_address, to_checksum_address

from .errors import KeyError_
from .node import DEV_PRIVATE_KEY

ENV_PRIVATE_KEY = "PROVENANCE_PRIVATE_KEY"
ENV_KEYSTORE_PASSWORD = "PROVENANCE_KEYSTORE_PASSWORD"
ENV_ADMIN_PRIVATE_KEY = "PROVENANCE_ADMIN_PRIVATE_KEY"
ENV_ADMIN_KEYSTORE_PASSWORD = "PROVENANCE_ADMIN_KEYSTORE_PASSWORD"

# The well-known second development account of anvil and Hardhat (mnemonic "test test ... junk",
# index 1). Public knowledge: the registry's admin only on a local development chain.
DEV_ADMIN_PRIVATE_KEY = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"
DEV_ADMIN_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@dataclass(frozen=True)
class KeySource:
    """Where one role's key comes from: its environment variable, keystore setting and password variable."""

    role: str  # "issuer" or "admin"
    env_key: str
    keystore_setting: str
    env_password: str
    dev_key: str


ISSUER_KEY = KeySource("issuer", ENV_PRIVATE_KEY, "keystore", ENV_KEYSTORE_PASSWORD, DEV_PRIVATE_KEY)
ADMIN_KEY = KeySource("admin", ENV_ADMIN_PRIVATE_KEY, "admin_keystore", ENV_ADMIN_KEYSTORE_PASSWORD, DEV_ADMIN_PRIVATE_KEY)


def dev_account() -> LocalAccount:
    return Account.from_key(DEV_PRIVATE_KEY)


def dev_admin_account() -> LocalAccount:
    return Account.from_key(DEV_ADMIN_PRIVATE_KEY)


def load_signer(keystore: str, *, allow_dev_key: bool) -> LocalAccount:
    """The issuer's key, from the environment, then the keystore, then (local chain only) the dev key."""
    return _load(ISSUER_KEY, keystore, allow_dev_key=allow_dev_key)


def load_admin_signer(keystore: str, *, allow_dev_key: bool) -> LocalAccount:
    """The admin's key, from the environment, then the admin keystore, then (local chain only) the dev admin key."""
    return _load(ADMIN_KEY, keystore, allow_dev_key=allow_dev_key)


def _load(source: KeySource, keystore: str, *, allow_dev_key: bool) -> LocalAccount:
    if raw := os.environ.get(source.env_key):
        try:
            return Account.from_key(raw.strip())
        except (ValueError, TypeError):
            raise KeyError_(f"{source.env_key} is not a valid private key") from None
    if keystore:
        return decrypt_keystore(Path(keystore).expanduser(), source.env_password)
    if allow_dev_key:
        return Account.from_key(source.dev_key)
    raise KeyError_(
        f"no {source.role} key: set {source.env_key}, or `{source.keystore_setting}` in config.toml "
        f"(with {source.env_password} or an interactive prompt)"
    )


def key_address(source: KeySource, keystore: str, *, allow_dev_key: bool) -> str | None:
    """The address of a role's configured key without asking for a password, or None when none is configured.

    An environment key is read; a keystore names its address in the clear (eth-account's
    `address` field), so it is not decrypted.
    """
    if raw := os.environ.get(source.env_key):
        try:
            return Account.from_key(raw.strip()).address
        except (ValueError, TypeError):
            raise KeyError_(f"{source.env_key} is not a valid private key") from None
    if keystore:
        path = Path(keystore).expanduser()
        try:
            address = json.loads(path.read_text()).get("address", "")
        except (OSError, ValueError, AttributeError) as exc:
            raise KeyError_(f"cannot read keystore {path}: {exc}") from None
        if address and is_address(address if address.startswith("0x") else "0x" + address):
            return to_checksum_address(address if address.startswith("0x") else "0x" + address)
        return None  # a keystore without its address: only decrypting it tells
    if allow_dev_key:
        return Account.from_key(source.dev_key).address
    return None


def decrypt_keystore(path: Path, password_env: str = ENV_KEYSTORE_PASSWORD) -> LocalAccount:
    try:
        encrypted = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KeyError_(f"cannot read keystore {path}: {exc}") from None
    password = os.environ.get(password_env)
    if password is None:
        if not sys.stdin.isatty():
            raise KeyError_(f"keystore {path} needs a password: set {password_env}")
        password = getpass.getpass(f"Password for {path.name}: ")
    try:
        return Account.from_key(Account.decrypt(encrypted, password))
    except (ValueError, KeyError, TypeError):
        raise KeyError_(f"cannot decrypt keystore {path}: wrong password or not a keystore") from None


def require_separate(admin: str, issuer: str) -> None:
    """Refuse one account as both admin and issuer (the registry refuses it too, after gas is spent)."""
    if admin.lower() == issuer.lower():
        raise KeyError_(
            f"the admin key and the issuer key are the same account ({admin}): the registry keeps them apart. "
            f"Set {ENV_ADMIN_PRIVATE_KEY} or `admin_keystore` to another key (make one with `provenance keys new PATH`)"
        )


def create_keystore(path: Path, password: str) -> str:
    """Write a new encrypted key to `path` (mode 600); returns its address."""
    if path.exists():
        raise KeyError_(f"{path} exists; refusing to overwrite a key")
    account = Account.create()
    encrypted = Account.encrypt(account.key, password)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(encrypted, out)
    return account.address
