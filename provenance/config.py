"""Configuration: `$PROVENANCE_HOME/config.toml` with environment overrides.

The only global state the project keeps is configuration, and even that is
passed around as a `Settings` value rather than read from module globals.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import cast

from .errors import ProvenanceError

DEFAULT_HOME = Path("~/.local/share/provenance")


class ConfigError(ProvenanceError):
    """The configuration file or an environment override is invalid."""


@dataclass(frozen=True)
class Thresholds:
    """Hamming-distance limits under which a file counts as a modified copy.

    Defaults chosen by the robustness study (bench/robustness.py, BENCHMARKS.md);
    a test keeps them equal to provenance.hashing.policy.
    """

    phash: int = 11
    pdq: int = 79
    # How far the lookup without a token id searches by PDQ (capped at `pdq`).
    # Multi-index hashing is cheap up to ~31 of 256 bits and close to a scan
    # at 79: lower it on a ledger of many certificates (BENCHMARKS.md has the
    # recall and the cost of each setting). Found candidates are still judged
    # against `pdq` and `phash`.
    pdq_lookup: int = 256

    @property
    def pdq_lookup_radius(self) -> int:
        return min(self.pdq, self.pdq_lookup)


@dataclass(frozen=True)
class Settings:
    home: Path
    rpc_url: str = ""  # empty: the managed local node
    contract: str = ""  # empty: the deployment recorded for the chain
    keystore: str = ""  # path of an eth-account keystore JSON: the issuer's key
    admin_keystore: str = ""  # the registry admin's keystore (chain deploy, issuers, admin revoke, re-issue approval)
    ipfs_backend: str = "embedded"  # embedded | kubo
    ipfs_api: str = "http://127.0.0.1:5001"
    ipfs_gateways: tuple[str, ...] = ()  # read fallback when the store lacks a CID
    ipfs_api_auth: str = field(default="", repr=False)  # Authorization header for Kubo / IPFS Cluster
    pinning_service: str = ""  # IPFS Pinning Service API v1 endpoint, for `ipfs publish`
    pinning_token: str = field(default="", repr=False)  # environment only: never in config.toml
    database_url: str = ""  # empty: SQLite at home/ledger.db
    # Non-empty: the only issuers `verify` trusts (EIP-55 addresses, checked at load).
    # Empty: whoever holds ISSUER_ROLE on the registry now (docs/verification.md).
    trusted_issuers: tuple[str, ...] = ()
    confirmations: int = 0  # blocks on top of a block before `sync` indexes it (docs/chain.md)
    # `provenance serve`: an upload above this many bytes is refused (HTTP 413) as soon as it passes the limit.
    max_upload_bytes: int = 512 * 1024**2
    thresholds: Thresholds = field(default_factory=Thresholds)
    # [c2pa] in config.toml (docs/verification.md, "C2PA"): a PEM file of the CAs whose C2PA
    # signers count as trusted (empty: every signer is reported untrusted, never rejected), and
    # the certificate chain and key that sign minted copies (empty: `provenance keys cert`'s).
    c2pa_trust_anchors: str = ""
    c2pa_sign_cert: str = ""
    c2pa_sign_key: str = ""

    @property
    def ledger_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'ledger.db'}"

    @property
    def ipfs_dir(self) -> Path:
        return self.home / "ipfs"

    @property
    def chain_dir(self) -> Path:
        return self.home / "chain"


# Environment variable -> settings key. Env wins over the file.
_ENV = {
    "PROVENANCE_RPC_URL": "rpc_url",
    "PROVENANCE_CONTRACT": "contract",
    "PROVENANCE_KEYSTORE": "keystore",
    "PROVENANCE_ADMIN_KEYSTORE": "admin_keystore",
    "PROVENANCE_IPFS_BACKEND": "ipfs_backend",
    "PROVENANCE_IPFS_API": "ipfs_api",
    "PROVENANCE_IPFS_GATEWAYS": "ipfs_gateways",
    "PROVENANCE_IPFS_API_AUTH": "ipfs_api_auth",
    "PROVENANCE_PINNING_SERVICE": "pinning_service",
    "PROVENANCE_PINNING_TOKEN": "pinning_token",
    "PROVENANCE_DATABASE_URL": "database_url",
    "PROVENANCE_TRUSTED_ISSUERS": "trusted_issuers",
    "PROVENANCE_CONFIRMATIONS": "confirmations",
    "PROVENANCE_MAX_UPLOAD_BYTES": "max_upload_bytes",
    "PROVENANCE_C2PA_TRUST_ANCHORS": "c2pa_trust_anchors",
    "PROVENANCE_C2PA_SIGN_CERT": "c2pa_sign_cert",
    "PROVENANCE_C2PA_SIGN_KEY": "c2pa_sign_key",
    "PROVENANCE_PHASH_THRESHOLD": "thresholds.phash",
    "PROVENANCE_PDQ_THRESHOLD": "thresholds.pdq",
    "PROVENANCE_PDQ_LOOKUP_RADIUS": "thresholds.pdq_lookup",
}

# Secrets a config file must not hold (files get copied, shared and committed).
_ENV_ONLY = {"pinning_token": "PROVENANCE_PINNING_TOKEN"}


def _coerce(key: str, value: object) -> object:
    if key in ("ipfs_gateways", "trusted_issuers"):
        if isinstance(value, str):
            items = tuple(v.strip() for v in value.split(",") if v.strip())
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            items = tuple(v.strip() for v in value)
        else:
            raise ConfigError(f"{key} must be a list of strings")
        return _issuer_addresses(items) if key == "trusted_issuers" else items
    if key.startswith("thresholds.") or key in ("confirmations", "max_upload_bytes"):
        try:
            number = int(value)  # type: ignore[call-overload]  # any TOML value; a wrong type is caught below
        except (TypeError, ValueError):
            raise ConfigError(f"{key} must be an integer, got {value!r}") from None
        if number < 0:
            raise ConfigError(f"{key} must not be negative")
        return number
    if not isinstance(value, str):
        raise ConfigError(f"{key} must be a string")
    return value


_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


def _issuer_addresses(items: tuple[str, ...]) -> tuple[str, ...]:
    """Each entry an Ethereum address, returned EIP-55 checksummed and without repeats.

    The list is an allowlist: an entry that is not an address would silently
    trust no one in its place, so it is refused rather than skipped. A
    mixed-case entry must carry a valid checksum, which catches a mistyped
    character; an all-lower or all-upper one has no checksum to check.
    """
    from eth_utils import to_checksum_address  # only when a list is configured: web3's stack is heavy

    out: list[str] = []
    for item in items:
        if not _ADDRESS.fullmatch(item):
            raise ConfigError(f"trusted_issuers: {item!r} is not an Ethereum address (0x and 40 hex digits)")
        checksummed = to_checksum_address(item)
        body = item[2:]
        if body != body.lower() and body != body.upper() and item != checksummed:
            raise ConfigError(f"trusted_issuers: {item!r} has a wrong EIP-55 checksum: a mistyped character? Copy the address again")
        if checksummed not in out:
            out.append(checksummed)
    return tuple(out)


# scheme://userinfo@ : the userinfo (user, password or token) is what must never be shown.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<userinfo>[^\s/?#]+)@")  # greedy: a password may hold an @


def redact_url(url: str) -> str:
    """The URL with any user name, password or token before the host replaced by `***`."""
    return redact_secrets(url)


def redact_secrets(text: str) -> str:
    """Any text (an error message, a check's reason) with the userinfo of every URL in it masked.

    Messages from the IPFS, chain and ledger clients name the endpoint they
    failed on; a configured endpoint may carry credentials (http://user:pass@host),
    so every message that leaves the program goes through here.
    """
    return _USERINFO.sub(r"\g<scheme>***@", text) if "@" in text else text


def load_settings(home: Path | None = None, environ: dict[str, str] | None = None) -> Settings:
    """Read config.toml under the home folder, then apply environment overrides."""
    env = os.environ if environ is None else environ
    home = home or Path(env.get("PROVENANCE_HOME", str(DEFAULT_HOME))).expanduser()
    values: dict[str, object] = {}
    path = home / "config.toml"
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: {exc}") from None
        for key, value in raw.items():
            if key == "thresholds" and isinstance(value, dict):
                for sub, v in value.items():
                    values[f"thresholds.{sub}"] = v
            elif key == "c2pa" and isinstance(value, dict):
                for sub, v in value.items():
                    values[f"c2pa_{sub}"] = v
            elif key in _ENV_ONLY:
                raise ConfigError(f"{path}: {key} may only be set in the environment ({_ENV_ONLY[key]})")
            else:
                values[key] = value
    for name, key in _ENV.items():
        if name in env:
            values[key] = env[name]

    known = {f.name for f in fields(Settings)} | {f"thresholds.{f.name}" for f in fields(Thresholds)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(f"unknown setting(s) in {path}: {', '.join(unknown)}")
    thresholds = Thresholds()
    top: dict[str, object] = {}
    for key, value in values.items():
        coerced = _coerce(key, value)
        if key.startswith("thresholds."):
            thresholds = replace(thresholds, **{key.split(".", 1)[1]: cast(int, coerced)})  # _coerce made it an int
        else:
            top[key] = coerced
    return Settings(home=home, thresholds=thresholds, **top)  # type: ignore[arg-type]
