"""Load on `provenance serve`: POST /v1/verify of exact copies at 1, 8 and 32 concurrent clients (issue 17).

A real server process (`provenance serve --rate-limit 0 --no-worker`) on a
throwaway home: an anvil node, the embedded IPFS store, SQLite, 16 certified
512x384 PNG images (no detectors). Each client is a thread with its own
keep-alive connection, posting one of the certified files as multipart and
checking the answer is 200 with status `verified` (anything else is an
error). The server's RSS is read from /proc before the first measured
request and after the last: 10,000 requests in all by default.

    .venv/bin/python bench/bench_serve.py --out bench/results/serve.md
    .venv/bin/python bench/bench_serve.py --quick            # 1,000 requests: a smoke run

The clients run on the same machine as the server (and compete with it for
the CPU), so the figures are a floor for the server alone.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.report import write_report  # noqa: E402

EXE = Path(sys.executable).parent / "provenance"
FILES = 16
GOAL_P99_MS = 100.0


@dataclass
class Phase:
    clients: int
    requests: int
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    cpu_ms: dict[str, float] = field(default_factory=dict)  # CPU time per request, by process

    def pct(self, q: float) -> float:
        data = sorted(self.latencies)
        if not data:
            return float("nan")
        return data[min(len(data) - 1, int(round(q / 100 * (len(data) - 1))))] * 1000


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its live descendants."""
    total = 0
    for member in family(pid):
        try:
            lines = Path(f"/proc/{member}/status").read_text().splitlines()
        except OSError:
            continue
        total += sum(int(line.split()[1]) for line in lines if line.startswith("VmRSS:"))
    return total / 1024 if total else float("nan")


def family(pid: int) -> list[int]:
    """`pid` and its live descendants (`serve --processes N` runs its server processes as children)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rpartition(")")[2].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            parents.setdefault(parent, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        current = todo.pop()
        out.append(current)
        todo += parents.get(current, [])
    return out


def cpu_seconds(pid: int, descendants: bool = True) -> float:
    """User + system CPU time so far of a process (and its live descendants) from /proc: other load does not change it."""
    total = 0
    for member in family(pid) if descendants else [pid]:
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def certify_samples(home: Path, rpc_url: str, folder: Path) -> list[Path]:
    from provenance.certify import Certifier, CertifyOptions
    from provenance.chain import deploy, open_web3
    from provenance.chain.keys import dev_account
    from provenance.chain_admin import chain_config
    from provenance.config import load_settings
    from provenance.context import open_parts
    from provenance.scanning import NoScanner
    from scripts.make_samples import scene

    settings = load_settings(home)
    deploy(chain_config(settings), open_web3(rpc_url), rpc_url, dev_account())
    parts = open_parts(settings, signer=True)
    paths = []
    for i in range(FILES):
        path = folder / f"sample-{i:02d}.png"
        scene(seed=100 + i).save(path)
        paths.append(path)
    results = Certifier(parts.chain, parts.store, parts.ledger, NoScanner()).certify(paths, CertifyOptions(batch=FILES))
    failed = [r.error for r in results if r.error]
    if failed:
        raise SystemExit(f"certifying the samples failed: {failed[0]}")
    return paths


def in_process(paths: list[Path], rounds: int = 200) -> Phase:
    """The same verifications without HTTP: the Verifier called in this process, one at a time (the floor for 1 client)."""
    from provenance.config import load_settings
    from provenance.server.service import VerificationService

    service = VerificationService(load_settings())
    phase = Phase(0, rounds)
    for p in paths:  # warm-up
        service.verify_file(p, p.name)
    start = time.perf_counter()
    for i in range(rounds):
        t = time.perf_counter()
        status = service.verify_file(paths[i % len(paths)], "x").status.value
        phase.latencies.append(time.perf_counter() - t)
        if status != "verified":
            phase.errors.append(status)
    phase.seconds = time.perf_counter() - start
    return phase


def run_phase(url: str, payloads: list[tuple[str, bytes]], phase: Phase) -> None:
    import httpx

    counter = iter(range(phase.requests))
    lock = threading.Lock()

    def client(n: int) -> None:
        with httpx.Client(base_url=url, timeout=60) as c:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                name, data = payloads[(i + n) % len(payloads)]
                start = time.perf_counter()
                try:
                    r = c.post("/v1/verify", files={"file": (name, data, "image/png")})
                    ok = r.status_code == 200 and r.json().get("status") == "verified"
                    why = "" if ok else f"HTTP {r.status_code}: {r.text[:120]}"
                except httpx.HTTPError as exc:
                    why = f"{type(exc).__name__}: {exc}"
                elapsed = time.perf_counter() - start
                with lock:
                    phase.latencies.append(elapsed)
                    if why:
                        phase.errors.append(why)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(phase.clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    phase.seconds = time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--quick", action="store_true", help="1,000 requests instead of 10,000")
    parser.add_argument("--parallel", type=int, default=4, help="the server's --parallel")
    parser.add_argument("--processes", type=int, default=1, help="the server's --processes")
    args = parser.parse_args()
    split = {1: 500, 8: 2500, 32: 7000}
    if args.quick:
        split = {k: v // 10 for k, v in split.items()}

    from provenance.chain import EphemeralNode

    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp, EphemeralNode(Path(tmp) / "anvil") as node:
        home = Path(tmp) / "home"
        home.mkdir()
        env = {**os.environ, "PROVENANCE_HOME": str(home), "PROVENANCE_RPC_URL": node.url}
        for name in ("PROVENANCE_CONTRACT", "PROVENANCE_KEYSTORE", "PROVENANCE_PRIVATE_KEY"):
            env.pop(name, None)
        os.environ.update({"PROVENANCE_HOME": str(home), "PROVENANCE_RPC_URL": node.url})
        from provenance.chain.node import DEV_PRIVATE_KEY

        os.environ["PROVENANCE_PRIVATE_KEY"] = DEV_PRIVATE_KEY
        paths = certify_samples(home, node.url, Path(tmp))
        baseline = in_process(paths)
        payloads = [(p.name, p.read_bytes()) for p in paths]
        port = free_port()
        server = subprocess.Popen(
            [
                str(EXE),
                "serve",
                "--port",
                str(port),
                "--rate-limit",
                "0",
                "--no-worker",
                "--parallel",
                str(args.parallel),
                "--processes",
                str(args.processes),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            import httpx

            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if server.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the server did not start: {server.stderr.read() if server.stderr else ''}")
                time.sleep(0.2)
            run_phase(url, payloads, Phase(4, 100))  # warm-up: imports, connections, caches
            rss_before = rss_mb(server.pid)
            phases = [Phase(c, n) for c, n in split.items()]
            # The clients are this process's threads; its children (anvil, the server) are counted apart.
            measured = {"server": (server.pid, True), "anvil": (node.pid, False), "clients": (os.getpid(), False)}
            for phase in phases:
                before = {k: cpu_seconds(*how) for k, how in measured.items()}
                run_phase(url, payloads, phase)
                phase.cpu_ms = {k: (cpu_seconds(*how) - before[k]) * 1000 / phase.requests for k, how in measured.items()}
                print(
                    f"{phase.clients} clients: {phase.requests / phase.seconds:.1f} req/s, p50 {phase.pct(50):.1f} ms, "
                    f"p99 {phase.pct(99):.1f} ms, {len(phase.errors)} errors, CPU ms/request "
                    + ", ".join(f"{k} {v:.1f}" for k, v in phase.cpu_ms.items()),
                    flush=True,
                )
            rss_after = rss_mb(server.pid)
        finally:
            server.terminate()
            server.wait(20)

    total = sum(p.requests for p in phases)
    lines = [
        "## HTTP verification service (issue 17)",
        "",
        f"Command: `.venv/bin/python bench/bench_serve.py{' --quick' if args.quick else ''}"
        f"{f' --processes {args.processes}' if args.processes != 1 else ''} --out {args.out or 'FILE'}` — "
        f"`provenance serve --rate-limit 0 --no-worker --parallel {args.parallel} --processes {args.processes}` "
        f"({'in its own process' if args.processes == 1 else f'{args.processes} server processes under a supervisor'}); anvil, embedded IPFS, SQLite; "
        f"`POST /v1/verify` (multipart) of exact copies of {FILES} certified 512x384 PNGs, no rescan; clients are threads "
        f"with keep-alive connections on the same machine ({platform.machine()}, {os.cpu_count()} CPUs, shared with other jobs).",
        "",
        "CPU per request is each process's user + system time over the phase divided by its requests: unlike the",
        "latencies it does not move with other load on the machine.",
        "",
        "| clients | requests | requests/s | p50 (ms) | p99 (ms) | errors | CPU ms/request: server | anvil | clients |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in phases:
        cpu = " | ".join(f"{p.cpu_ms[k]:.1f}" for k in ("server", "anvil", "clients"))
        lines.append(
            f"| {p.clients} | {p.requests:,} | {p.requests / p.seconds:.1f} | {p.pct(50):.1f} | {p.pct(99):.1f} | {len(p.errors)} | {cpu} |"
        )
    lines.append(
        f"| in process, no HTTP (baseline) | {baseline.requests:,} | {baseline.requests / baseline.seconds:.1f} | "
        f"{baseline.pct(50):.1f} | {baseline.pct(99):.1f} | {len(baseline.errors)} | | | |"
    )
    eight = next(p for p in phases if p.clients == 8)
    lines += [
        "",
        f"Goal: 0 errors, p99 <= {GOAL_P99_MS:.0f} ms at 8 clients: "
        f"{'met' if not any(p.errors for p in phases) and eight.pct(99) <= GOAL_P99_MS else 'not met'} "
        f"({sum(len(p.errors) for p in phases)} errors, p99 at 8 clients {eight.pct(99):.1f} ms).",
        "",
        f"Server RSS before the {total:,} measured requests {rss_before:.0f} MB, after {rss_after:.0f} MB "
        f"({rss_after - rss_before:+.0f} MB).",
    ]
    errors = [e for p in phases for e in p.errors]
    if errors:
        lines += ["", f"First error: {errors[0]}"]
    if args.out:
        write_report(lines, args.out)
    else:
        print("\n".join(lines))


if __name__ == "__main__":
    main()
