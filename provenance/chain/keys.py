"""Signing keys: an encrypted keystore or the environment, never argv or logs."""

from __future__ import annotations

import getpass
import json
import os
import sys
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from .errors import KeyError_
from .node import DEV_PRIVATE_KEY

ENV_PRIVATE_KEY = "PROVENANCE_PRIVATE_KEY"
ENV_KEYSTORE_PASSWORD = "PROVENANCE_KEYSTORE_PASSWORD"


def dev_account() -> LocalAccount:
    return Account.from_key(DEV_PRIVATE_KEY)


def load_signer(keystore: str, *, allow_dev_key: bool) -> LocalAccount:
    """The issuer's key, from the environment, then the keystore, then (local chain only) the dev key."""
    if raw := os.environ.get(ENV_PRIVATE_KEY):
        try:
            return Account.from_key(raw.strip())
        except (ValueError, TypeError):
            raise KeyError_(f"{ENV_PRIVATE_KEY} is not a valid private key") from None
    if keystore:
        return decrypt_keystore(Path(keystore).expanduser())
    if allow_dev_key:
        return dev_account()
    raise KeyError_(
        f"no issuer key: set {ENV_PRIVATE_KEY}, or `keystore` in config.toml "
        f"(with {ENV_KEYSTORE_PASSWORD} or an interactive prompt)"
    )


def decrypt_keystore(path: Path) -> LocalAccount:
    try:
        encrypted = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise KeyError_(f"cannot read keystore {path}: {exc}") from None
    password = os.environ.get(ENV_KEYSTORE_PASSWORD)
    if password is None:
        if not sys.stdin.isatty():
            raise KeyError_(f"keystore {path} needs a password: set {ENV_KEYSTORE_PASSWORD}")
        password = getpass.getpass(f"Password for {path.name}: ")
    try:
        return Account.from_key(Account.decrypt(encrypted, password))
    except (ValueError, KeyError, TypeError):
        raise KeyError_(f"cannot decrypt keystore {path}: wrong password or not a keystore") from None


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
