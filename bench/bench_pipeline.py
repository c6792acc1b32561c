"""Certify throughput and verify latency on a real local chain, embedded IPFS and SQLite.

Baseline, in the same run on the same node: the raw pipelined mint rate, i.e.
precomputed mint requests signed and sent back to back, then all receipts
awaited, at the same batch size. Certify runs without detectors.

    .venv/bin/python bench/bench_pipeline.py --files 60 --out bench/results/pipeline.md
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.report import publish  # noqa: E402
from provenance.certify import Certifier, CertifyOptions  # noqa: E402
from provenance.chain import EphemeralNode, MintRequest, OnChainLabel, Registry, deploy, open_web3  # noqa: E402
from provenance.chain.keys import dev_account  # noqa: E402
from provenance.chain.node import DEV_PRIVATE_KEY  # noqa: E402
from provenance.chain_admin import chain_config  # noqa: E402
from provenance.config import load_settings  # noqa: E402
from provenance.context import open_parts  # noqa: E402
from provenance.scanning import NoScanner  # noqa: E402
from provenance.verify import Status
from provenance.verify.verifier import Verifier  # noqa: E402
from scripts.make_samples import scene  # noqa: E402


def raw_mint_rate(registry: Registry, count: int, batch: int, salt: bytes) -> float:
    requests = [
        MintRequest(
            hashlib.sha256(salt + i.to_bytes(4, "big")).digest(),
            hashlib.sha256(b"m" + salt + bytes(i)).digest(),
            OnChainLabel.UNSCANNED,
            0,
            i,
            b"\1" * 32,
        )
        for i in range(count)
    ]
    start = time.perf_counter()
    sent = [registry.send_mint(dev_account().address, requests[i : i + batch]) for i in range(0, count, batch)]
    for tx in sent:
        registry.wait(tx.tx_hash)
    return count / (time.perf_counter() - start)


def certify_rate(parts, files: list[Path], batch: int) -> float:
    certifier = Certifier(parts.chain, parts.store, parts.ledger, NoScanner())
    start = time.perf_counter()
    results = certifier.certify(files, CertifyOptions(batch=batch))
    elapsed = time.perf_counter() - start
    assert all(r.error is None for r in results), [r.error for r in results if r.error]
    return len(files) / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=60)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-pipeline-"))
    os.environ["PROVENANCE_HOME"] = str(work / "home")
    os.environ["PROVENANCE_PRIVATE_KEY"] = DEV_PRIVATE_KEY
    with EphemeralNode(work) as node:
        os.environ["PROVENANCE_RPC_URL"] = node.url
        settings = load_settings()
        rows = []
        for batch in (1, 20):
            session = deploy(chain_config(settings), open_web3(node.url), node.url, dev_account())
            raw = raw_mint_rate(session.registry, args.files, batch, salt=f"raw{batch}".encode())
            files = []
            for i in range(args.files):
                path = work / f"b{batch}-{i}.png"
                scene(seed=10_000 * batch + i, size=(512, 384)).save(path)
                files.append(path)
            parts = open_parts(settings, signer=True)
            rate = certify_rate(parts, files, batch)
            rows.append((batch, raw, rate))
        verifier = Verifier(parts)
        latencies = []
        for path in files[:30]:
            start = time.perf_counter()
            report = verifier.verify(path)
            latencies.append((time.perf_counter() - start) * 1000)
            assert report.status is Status.VERIFIED
    p50 = statistics.median(latencies)
    p95 = sorted(latencies)[int(0.95 * (len(latencies) - 1))]
    lines = [
        "## Certify and verify (issue 4)",
        "",
        f"Command: `.venv/bin/python bench/bench_pipeline.py --files {args.files}` — anvil on 127.0.0.1, embedded IPFS, SQLite, "
        "512x384 PNG images, no detectors. Baseline: precomputed mint requests sent back to back at the same batch size on the same node.",
        "",
        "| batch | raw pipelined mint (certs/s) | certify (files/s) | ratio to raw at the same batch | ratio to raw single-certificate mints |",
        "|---:|---:|---:|---:|---:|",
        *[f"| {b} | {raw:.1f} | {rate:.1f} | {rate / raw:.2f} | {rate / rows[0][1]:.2f} |" for b, raw, rate in rows],
        "",
        "Goal: certify with batching >= 0.5 of the raw pipelined mint rate.",
        "",
        f"Verify latency without rescan, exact copies, in process ({len(latencies)} files): p50 {p50:.1f} ms, p95 {p95:.1f} ms (goal p50 <= 50 ms).",
        "",
    ]
    publish("\n".join(lines), args.out)


if __name__ == "__main__":
    main()
