"""Fixtures for the IPFS tests: an isolated store and Kubo's deterministic test data."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from provenance.ipfs.embedded import EmbeddedStore


class KuboRandomReader(io.RawIOBase):
    """The bytes Kubo's test harness adds (`testutils.DeterministicRandomReader`).

    Kubo keys ChaCha20 with sha256(seed), a zero 12-byte nonce and encrypts
    zeros; this reproduces it in constant memory so the CIDs in Kubo's own
    tests can be checked here.
    """

    def __init__(self, size: int, seed: str) -> None:
        from Crypto.Cipher import ChaCha20

        self._cipher = ChaCha20.new(key=hashlib.sha256(seed.encode()).digest(), nonce=bytes(12))
        self._remaining = size

    def readable(self) -> bool:
        return True

    def readinto(self, buf) -> int:
        n = min(len(buf), self._remaining)
        if n:
            view = memoryview(buf)[:n]
            self._cipher.encrypt(bytes(n), output=view)
            self._remaining -= n
        return n


def kubo_random_bytes(size: int, seed: str) -> bytes:
    return KuboRandomReader(size, seed).read(size) if size else b""


def write_kubo_random(path: Path, size: int, seed: str) -> Path:
    reader = KuboRandomReader(size, seed)
    with open(path, "wb") as fh:
        while chunk := reader.read(1 << 20):
            fh.write(chunk)
    return path


@pytest.fixture
def ipfs_home(home, monkeypatch) -> Path:
    for name in (
        "PROVENANCE_IPFS_BACKEND",
        "PROVENANCE_IPFS_API",
        "PROVENANCE_IPFS_GATEWAYS",
        "PROVENANCE_IPFS_API_AUTH",
        "PROVENANCE_PINNING_SERVICE",
        "PROVENANCE_PINNING_TOKEN",
        "PROVENANCE_DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    return home


@pytest.fixture
def store(ipfs_home) -> EmbeddedStore:
    return EmbeddedStore(ipfs_home / "ipfs")
