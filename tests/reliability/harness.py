"""What the reliability tests and bench/bench_reliability.py share: real `provenance`
processes on homes of their own, the managed anvil node of a home, and an audit
of a home's ledger against its chain.

Nothing here is mocked: each command is the installed `provenance` in its own
process (killed for real with SIGKILL where a scenario says so), and the audit
reads the registry's events and views over JSON-RPC and the ledger with the
project's own classes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import httpx

from tests.cli_json import envelope

REPO = Path(__file__).resolve().parents[2]
EXE = Path(sys.executable).parent / "provenance"
# anvil's first development account: public knowledge, the issuer on local chains only.
DEV_PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"

# Run from a fresh interpreter: the peak RSS that wait4 reports for a child also counts
# what the child inherited before exec (a fork of a big bench process), so the command is
# started from this small launcher. The command gets a process group of its own, killed
# whole at the time limit (decoding workers included).
_LAUNCH = r"""
import json, os, signal, subprocess, sys, tempfile, threading, time
limit, fsize = float(sys.argv[1]), int(sys.argv[2])
def cap():  # RLIMIT_FSIZE, when a scenario stands in a file size limit for a full disk
    import resource
    resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
    start = time.perf_counter()
    proc = subprocess.Popen(sys.argv[3:], stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True,
                            preexec_fn=cap if fsize else None)
    fired = []
    def stop():
        fired.append(1)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    timer = threading.Timer(limit, stop)
    timer.start()
    _, status, usage = os.wait4(proc.pid, 0)
    timer.cancel()
    seconds = time.perf_counter() - start
    out.seek(0), err.seek(0)
    json.dump({"code": os.waitstatus_to_exitcode(status), "rss_kb": usage.ru_maxrss, "seconds": seconds,
               "timed_out": bool(fired), "stdout": out.read().decode(errors="replace"),
               "stderr": err.read().decode(errors="replace")}, sys.stdout)
"""


@dataclass
class Run:
    args: list[str]
    code: int
    seconds: float
    stdout: str
    stderr: str
    rss_mb: float = 0.0
    timed_out: bool = False

    @property
    def traceback(self) -> bool:
        return "Traceback" in self.stderr or "Traceback" in self.stdout

    def json(self):
        """The `--json` envelope's `files` (per-file commands) or `result` (the others); docs/cli.md."""
        doc = envelope(self.stdout)
        return doc["files"] if "files" in doc else doc["result"]

    def error_lines(self) -> list[str]:
        return [line for line in self.stderr.splitlines() if line.strip()]

    def brief(self) -> str:
        tail = self.stderr.strip().splitlines()[-1] if self.stderr.strip() else ""
        return f"exit {self.code} after {self.seconds:.1f} s: {tail[:300]}"


def measured(args: list[str], env: dict, timeout: float = 600.0, fsize: int = 0) -> Run:
    """Run `provenance ARGS` to the end (or `timeout`), with its peak RSS (its own and its children's).

    `fsize`: a file size limit (RLIMIT_FSIZE) in bytes for the command, 0 for none.
    """
    cmd = [sys.executable, "-c", _LAUNCH, str(timeout), str(fsize), str(EXE), *map(str, args)]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    out = json.loads(done.stdout)
    return Run(
        [str(a) for a in args],
        out["code"],
        out["seconds"],
        out["stdout"],
        out["stderr"],
        rss_mb=out["rss_kb"] / 1024,
        timed_out=out["timed_out"],
    )


@dataclass
class Spawned:
    """A `provenance` process running in the background, to be killed or waited for."""

    args: list[str]
    proc: subprocess.Popen
    out: object
    err: object
    started: float

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def finish(self, timeout: float = 600.0) -> Run:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self.proc.wait()
        seconds = time.monotonic() - self.started
        self.out.seek(0), self.err.seek(0)
        stdout, stderr = self.out.read().decode(errors="replace"), self.err.read().decode(errors="replace")
        self.out.close(), self.err.close()
        return Run(self.args, self.proc.returncode, seconds, stdout, stderr)


def spawn(args: list[str], env: dict) -> Spawned:
    out, err = tempfile.TemporaryFile(), tempfile.TemporaryFile()
    args = [str(a) for a in args]
    proc = subprocess.Popen([str(EXE), *args], stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    return Spawned(args, proc, out, err, time.monotonic())


def clean_environ() -> dict[str, str]:
    """This process's environment without any PROVENANCE_* setting (each home sets its own)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PROVENANCE_")}


_started: list["Home"] = []


def stop_all() -> None:
    """`chain down` in every home whose node was started here (a bench that failed half-way leaves none)."""
    while _started:
        home = _started.pop()
        if home.node_pid() is not None:
            home.down()


@dataclass
class Home:
    """A $PROVENANCE_HOME. With `rpc_url`, it uses that node (another home's) with the dev issuer key."""

    path: Path
    rpc_url: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    fsize: int = 0  # RLIMIT_FSIZE of its commands (SmallDisk's stand-in for a full disk), 0 for none

    @property
    def env(self) -> dict[str, str]:
        env = {**clean_environ(), "PROVENANCE_HOME": str(self.path), **self.extra}
        if self.rpc_url:
            env |= {"PROVENANCE_RPC_URL": self.rpc_url, "PROVENANCE_PRIVATE_KEY": DEV_PRIVATE_KEY}
        return env

    def cli(self, *args, timeout: float = 600.0) -> Run:
        return measured(list(args), self.env, timeout, self.fsize)

    def spawn(self, *args, env: dict[str, str] | None = None) -> Spawned:
        return spawn(list(args), {**self.env, **(env or {})})

    # ---- the home's own anvil (`provenance chain up`) ----------------------------------------
    def up(self, *extra: str) -> Run:
        _started.append(self)
        return self.cli("chain", "up", "--json", *extra, timeout=120)

    def down(self) -> Run:
        return self.cli("chain", "down", timeout=60)

    @property
    def node_url(self) -> str:
        if self.rpc_url:
            return self.rpc_url
        return f"http://127.0.0.1:{(self.path / 'chain' / 'anvil.port').read_text().strip()}"

    def node_pid(self) -> int | None:
        try:
            return int((self.path / "chain" / "anvil.pid").read_text().strip())
        except (OSError, ValueError):
            return None

    def kill_node(self) -> bool:
        """SIGKILL the home's anvil, as a crash or an out-of-memory kill would end it."""
        pid = self.node_pid()
        if pid is None:
            return False
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return False
        for _ in range(200):  # reaped by init: wait until it is gone
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return True
            time.sleep(0.01)
        return True

    def rpc(self, method: str, params: list | None = None):
        reply = httpx.post(self.node_url, json={"jsonrpc": "2.0", "id": 1, "method": method, "params": params or []}, timeout=30)
        body = reply.json()
        if "error" in body:
            raise RuntimeError(f"{method}: {body['error']}")
        return body["result"]

    def trust(self, address: str) -> Run:
        return self.cli("chain", "trust", address, "--json", timeout=120)


@contextmanager
def running(home: Home) -> Iterator[Home]:
    """`home` with its chain up, taken down afterwards even when the test fails (the fixtures' shape)."""
    try:
        up = home.up()
        assert up.code == 0, up.stderr
        yield home
    finally:
        home.down()


class SmallDisk:
    """A small filesystem at `path`: a tmpfs of `mb` MiB when this process may mount one (root), else
    only a stand-in, a file size limit (RLIMIT_FSIZE) for the commands of homes that take `fsize`."""

    def __init__(self, path: Path, mb: int):
        self.path, self.mb = path, mb
        path.mkdir(parents=True, exist_ok=True)
        try:
            subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={mb}m,mode=0700", "tmpfs", str(path)], check=True, capture_output=True, timeout=30
            )
            self.kind = "tmpfs"
        except (OSError, subprocess.SubprocessError):
            self.kind = "RLIMIT_FSIZE"

    @property
    def fsize(self) -> int:
        return self.mb * 1024 * 1024 if self.kind == "RLIMIT_FSIZE" else 0

    def grow(self, mb: int) -> None:
        self.mb = mb
        if self.kind == "tmpfs":
            subprocess.run(["mount", "-o", f"remount,size={mb}m", str(self.path)], check=True, capture_output=True, timeout=30)

    def free_mb(self) -> float:
        stat = os.statvfs(self.path)
        return stat.f_bavail * stat.f_frsize / 1024**2

    def close(self) -> None:
        if self.kind == "tmpfs":
            subprocess.run(["umount", "-l", str(self.path)], capture_output=True, timeout=30)

    def __enter__(self) -> "SmallDisk":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def sha256_of(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@dataclass
class Audit:
    """A home's ledger held against its chain (the deployment the home records)."""

    issued: Counter  # token id -> CertificateIssued events on the deployment
    on_chain: set[int]  # tokens of `contents` the chain holds
    ledger: set[int]  # certificate rows of the deployment in use
    phantom: list[int]  # rows the chain does not hold, or holds with other metadata
    unconfirmed: list[str]  # jobs of `contents` that are not confirmed
    wanted: set[int]

    @property
    def double_mints(self) -> int:
        return sum(1 for count in self.issued.values() if count > 1)

    @property
    def missing(self) -> set[int]:
        return self.wanted - self.on_chain

    @property
    def ok(self) -> bool:
        return not self.phantom and not self.double_mints and not self.missing and not self.unconfirmed

    def summary(self) -> str:
        return (
            f"{len(self.on_chain)}/{len(self.wanted)} on chain, {len(self.phantom)} phantom, "
            f"{self.double_mints} double, {len(self.unconfirmed)} unconfirmed jobs"
        )


def audit(home: Home, contents: list[str]) -> Audit:
    """Ledger and chain of `home`, for the files whose sha256 are `contents`."""
    from provenance.config import load_settings
    from provenance.context import open_parts

    parts = open_parts(load_settings(home.path, environ=home.env))
    try:
        registry, deployment = parts.chain.registry, parts.chain.deployment
        issued = Counter(e.args["tokenId"] for e in registry.events(deployment.deploy_block) if e.name == "CertificateIssued")
        wanted = {int(c, 16) for c in contents}
        held = {t for t in wanted if registry.certificate(t) is not None}
        rows = parts.ledger.certificates(deployment.chain_id, deployment.address)
        phantom = []
        for row in rows:
            cert = registry.certificate(int(row.content_sha256, 16))
            if cert is None or cert.metadata_digest.hex() != row.metadata_digest:
                phantom.append(int(row.content_sha256, 16))
        jobs = {j.content_sha256: j for j in parts.ledger.jobs(chain_id=deployment.chain_id, contract=deployment.address)}
        unconfirmed = [c for c in contents if jobs.get(c) is None or jobs[c].state != "confirmed"]
        return Audit(issued, held, {int(r.content_sha256, 16) for r in rows}, phantom, unconfirmed, wanted)
    finally:
        parts.store.close() if hasattr(parts.store, "close") else None
        parts.ledger.engine.dispose()


def job_states(home: Home) -> Counter:
    """How many mint jobs of the home's ledger are in each state (every deployment; no chain needed)."""
    from provenance.config import load_settings
    from provenance.ledger import Ledger

    ledger = Ledger.open(load_settings(home.path, environ=home.env).ledger_url)
    try:
        return Counter(job.state for job in ledger.jobs())
    finally:
        ledger.engine.dispose()


def photos(directory: Path, count: int, first_seed: int, size: tuple[int, int] = (160, 120)) -> list[Path]:
    """`count` distinct small PNG landscapes."""
    from scripts.make_samples import scene

    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(count):
        path = directory / f"p{first_seed + i}.png"
        scene(seed=first_seed + i, size=size).save(path)
        out.append(path)
    return out


class IpfsPeer:
    """A js-ipfs daemon (the Kubo RPC API; tests/ipfs/jsipfs.py) that can be SIGKILLed and started again."""

    def __init__(self, repo: Path):
        from tests.ipfs.jsipfs import JsIpfsDaemon

        self.daemon = JsIpfsDaemon(repo)

    @property
    def api_url(self) -> str:
        return self.daemon.api_url

    def start(self) -> "IpfsPeer":
        self.daemon.start()
        return self

    def kill(self) -> None:
        process = self.daemon.process
        if process is not None and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=30)

    def restart(self) -> None:
        """Start the daemon again on its repo, as an operator would after a crash: js-ipfs leaves its
        lock file and API address behind when killed (Kubo's lock is released by the kernel)."""
        from tests.ipfs.jsipfs import CLI

        self.kill()
        for leftover in ("repo.lock", "api"):  # repo.lock is a folder (proper-lockfile)
            path = self.daemon.repo_dir / leftover
            shutil.rmtree(path) if path.is_dir() else path.unlink(missing_ok=True)
        with open(self.daemon.log, "ab") as log:
            self.daemon.process = subprocess.Popen(
                [str(self.daemon.node), str(CLI), "daemon"],
                env=self.daemon.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.daemon.process.poll() is not None:
                raise RuntimeError(f"js-ipfs did not start again: {self.daemon.log.read_text()[-500:]}")
            try:
                if httpx.post(f"{self.api_url}/api/v0/version", timeout=2).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("js-ipfs did not answer within 60 s of its restart")

    def stop(self) -> None:
        self.daemon.stop()


class ReadOnly:
    """`path` made read-only in place (a read-only bind mount of itself) while the context lasts;
    `available` is False where this process may not mount (not root)."""

    def __init__(self, path: Path):
        self.path = path
        self.available = False

    def __enter__(self) -> "ReadOnly":
        try:
            subprocess.run(["mount", "--bind", str(self.path), str(self.path)], check=True, capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return self
        try:
            subprocess.run(["mount", "-o", "remount,ro,bind", str(self.path)], check=True, capture_output=True, timeout=30)
            self.available = True
        except (OSError, subprocess.SubprocessError):
            subprocess.run(["umount", str(self.path)], capture_output=True, timeout=30)
        return self

    def __exit__(self, *exc) -> None:
        if self.available:
            subprocess.run(["umount", str(self.path)], check=True, capture_output=True, timeout=30)
