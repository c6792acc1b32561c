"""Several processes sending with one key on one home take turns: no "nonce too low"."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time

import pytest

from provenance.chain import Registry, open_web3, token_id_of
from provenance.chain.keys import dev_account, dev_admin_account

SENDER = r"""
import hashlib, sys, time
from pathlib import Path
from provenance.chain import MintRequest, OnChainLabel, Registry, open_web3
from provenance.chain.keys import dev_account

url, address, lock_dir, start_at, tag, count = sys.argv[1:]
w3 = open_web3(url)
try:
    registry = Registry(w3, address, dev_account(), lock_dir=Path(lock_dir))
except TypeError:  # a registry without per-signer locks
    registry = Registry(w3, address, dev_account())
requests = []
for i in range(int(count)):
    seed = f"{tag}:{i}".encode()
    requests.append(MintRequest(
        hashlib.sha256(seed).digest(), hashlib.sha256(b"m" + seed).digest(), OnChainLabel.UNCERTAIN, 5000,
        1, hashlib.sha256(b"q" + seed).digest(),
    ))
while time.time() < float(start_at):  # every process starts sending at the same moment
    time.sleep(0.001)
sent = [registry.send_mint(dev_account().address, [r]) for r in requests]
for tx in sent:
    registry.wait(tx.tx_hash)
print("ok")
"""


@pytest.mark.slow
def test_processes_sending_at_the_same_moment_all_get_their_own_nonces(anvil, tmp_path):
    w3 = open_web3(anvil.url)
    as_admin, _ = Registry.deploy(w3, dev_admin_account())  # the registry keeps admin and issuer apart
    as_admin.grant_issuer(dev_account().address)
    registry = as_admin.with_signer(dev_account())
    start_at = time.time() + 10  # after every interpreter has imported web3, even on a busy machine
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", SENDER, anvil.url, registry.address, str(tmp_path / "locks"), str(start_at), f"p{p}", "8"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for p in range(3)
    ]
    outputs = [proc.communicate(timeout=240) for proc in procs]
    for proc, (_out, err) in zip(procs, outputs):
        assert proc.returncode == 0, err[-2000:]
    for p in range(3):
        for i in range(8):
            token = token_id_of(hashlib.sha256(f"p{p}:{i}".encode()).digest())
            assert registry.certificate(token) is not None


def test_the_lock_is_per_signer_file_and_reentrant(tmp_path):
    from provenance.chain.locks import SignerLock

    lock = SignerLock.for_signer(tmp_path, "0xAbC")
    assert lock is SignerLock.for_signer(tmp_path, "0xabc")
    with lock:
        with lock:
            pass
        assert (tmp_path / "0xabc.lock").exists()
        # Another process cannot take it while we hold it.
        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR);\n"
                "try:\n fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); print('free')\n"
                "except BlockingIOError:\n print('held')",
                str(tmp_path / "0xabc.lock"),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert probe.stdout.strip() == "held"
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import fcntl, os, sys; fd = os.open(sys.argv[1], os.O_RDWR); fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB); print('free')",
            str(tmp_path / "0xabc.lock"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert probe.stdout.strip() == "free"
