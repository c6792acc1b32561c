"""The local testnet: an anvil node on 127.0.0.1 that the project starts and stops.

Anvil rather than `hardhat node` because anvil persists the chain to a state
file (`--state`), so `chain down` / `chain up` keeps certificates, starts in
~50 ms and needs no Node runtime. `--prune-history` stops it writing gigabytes
of historical states under ~/.foundry; it keeps the last `KEEP_STATES` states in
memory, because with none kept a block mined by one process while another's
read of "latest" was under way fails that read (BlockOutOfRangeError: several
`provenance mint` at once on one home lost runs to it), and `anvil_reorg`
needs them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..paths import private_dir
from .errors import NodeError

LOCAL_CHAIN_ID = 31337
# The well-known first development account of anvil and Hardhat. Public
# knowledge: it is the issuer only on the local chain.
DEV_PRIVATE_KEY = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
DEV_ADDRESS = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"

_REPO = Path(__file__).resolve().parents[2]


def anvil_binary() -> Path:
    """Find anvil: $PROVENANCE_ANVIL, the repository's node_modules, then PATH."""
    candidates = [os.environ.get("PROVENANCE_ANVIL", "")]
    candidates.append(str(_REPO / "node_modules" / "@foundry-rs" / "anvil-linux-amd64" / "bin" / "anvil"))
    candidates.append(shutil.which("anvil") or "")
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return Path(candidate)
    raise NodeError("anvil not found: run `make setup` (it installs anvil from npm) or set PROVENANCE_ANVIL")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rpc_answers(url: str, timeout: float = 1.0) -> bool:
    try:
        reply = httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}, timeout=timeout)
        return reply.status_code == 200 and "result" in reply.json()
    except (httpx.HTTPError, ValueError):
        return False


def _spawn(args: list[str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)


def _wait_ready(proc: subprocess.Popen, url: str, log: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-500:] if log.exists() else ""
            raise NodeError(f"anvil exited with code {proc.returncode}: {tail.strip()}")
        if rpc_answers(url, timeout=0.5):
            return
        time.sleep(0.05)
    proc.kill()
    raise NodeError(f"anvil did not answer on {url} within {timeout:.0f} s")


# Recent states anvil keeps in memory: reads of the last blocks, and reorganisations that deep.
KEEP_STATES = 64


def _base_args(port: int, keep_states: int | None = None) -> list[str]:
    """`keep_states`: how many recent states anvil keeps in memory (default KEEP_STATES)."""
    prune = ["--prune-history", str(keep_states or KEEP_STATES)]
    return [str(anvil_binary()), "--host", "127.0.0.1", "--port", str(port), *prune, "--silent"]


@dataclass(frozen=True)
class NodeStatus:
    running: bool
    url: str | None
    pid: int | None
    state_file: Path


class ManagedNode:
    """The user's persistent local chain under `$PROVENANCE_HOME/chain/`."""

    def __init__(self, chain_dir: Path):
        self.dir = chain_dir
        self.state_file = chain_dir / "state.json"
        self._pid_file = chain_dir / "anvil.pid"
        self._port_file = chain_dir / "anvil.port"
        self._log = chain_dir / "anvil.log"
        self._genesis_file = chain_dir / "genesis_timestamp"

    def status(self) -> NodeStatus:
        pid, port = self._read_int(self._pid_file), self._read_int(self._port_file)
        url = f"http://127.0.0.1:{port}" if port else None
        alive = pid is not None and self._is_ours(pid) and url is not None and rpc_answers(url)
        return NodeStatus(running=alive, url=url if alive else None, pid=pid if alive else None, state_file=self.state_file)

    def start(self, port: int | None = None) -> NodeStatus:
        current = self.status()
        if current.running:
            return current
        private_dir(self.dir)
        port = port or self._read_int(self._port_file) or 8545
        if not _port_free(port):
            port = free_port()
        args = _base_args(port) + ["--state", str(self.state_file), "--state-interval", "1"]
        restart = self.state_file.exists()
        # A fresh chain gets its own genesis time, so its genesis hash differs from any earlier
        # chain and a recorded deployment cannot be misread. A restarted one gets the same time
        # again: anvil makes the genesis block anew at every start, and with another time it is
        # another block 0, kept next to the first in the state file, either of them answered for
        # "block 0" afterwards, and the chain taken for a reset one.
        genesis = self._genesis_time() if restart else None
        genesis = genesis or int(time.time())
        args += ["--timestamp", str(genesis)]
        proc = _spawn(args, self._log)
        url = f"http://127.0.0.1:{port}"
        _wait_ready(proc, url, self._log)
        self._genesis_file.write_text(str(genesis))
        self._pid_file.write_text(str(proc.pid))
        self._port_file.write_text(str(port))
        if restart:
            _clock_to_now(url)
        return self.status()

    def _genesis_time(self) -> int | None:
        """The chain's genesis time: as recorded at its first start, or (a chain started by an older
        version, which did not record it) the first genesis in its state file, the others removed."""
        recorded = self._read_int(self._genesis_file)
        if recorded is not None:
            return recorded
        return _mend_genesis(self.state_file)

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop the node, letting it write its state; False if it was not running."""
        pid = self._read_int(self._pid_file)
        if pid is None or not self._is_ours(pid):
            # Gone, or the pid now belongs to another process (the pid file outlived our anvil):
            # never signal a process that is not the anvil serving this state file.
            self._pid_file.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        self._pid_file.unlink(missing_ok=True)
        return True

    def _is_ours(self, pid: int) -> bool:
        """Whether `pid` is alive and is an anvil started on this home's state file."""
        if not _pid_alive(pid):
            return False
        args = _command_line(pid)
        if not args or "anvil" not in Path(args[0]).name:
            return False
        ours = os.path.realpath(self.state_file)
        return any(a == str(self.state_file) or os.path.realpath(a) == ours for a in args[1:] if a.endswith(".json"))

    @staticmethod
    def _read_int(path: Path) -> int | None:
        try:
            return int(path.read_text().strip())
        except (OSError, ValueError):
            return None


def _mend_genesis(state_file: Path) -> int | None:
    """Keep only the first genesis block in an anvil state file (one was added at every restart
    without the genesis time); its timestamp, or None when the file does not look as expected."""
    try:
        state = json.loads(state_file.read_text())
        genesis = [b for b in state["blocks"] if int(b["header"]["number"], 16) == 0]
        first = min(int(b["header"]["timestamp"], 16) for b in genesis)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if len(genesis) > 1:
        state["blocks"] = [b for b in state["blocks"] if b not in genesis or int(b["header"]["timestamp"], 16) == first]
        tmp = state_file.with_name(state_file.name + ".mend")
        tmp.write_text(json.dumps(state))
        os.replace(tmp, state_file)
    return first


def _clock_to_now(url: str) -> None:
    """New blocks of a restarted chain take the wall clock (anvil's starts from the genesis time again)."""
    try:
        latest = httpx.post(
            url, json={"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["latest", False]}, timeout=5
        ).json()["result"]
        now = int(time.time())
        if now > int(latest["timestamp"], 16):
            httpx.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "evm_setTime", "params": [now]}, timeout=5)
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        pass  # the chain works with its own clock too


class EphemeralNode:
    """A throwaway anvil on a free port, for tests and benchmarks; keeps no state."""

    def __init__(self, log_dir: Path, keep_states: int | None = None):
        self._log = log_dir / "anvil-ephemeral.log"
        self._proc: subprocess.Popen | None = None
        self._keep_states = keep_states
        self.url = ""

    def __enter__(self) -> "EphemeralNode":
        private_dir(self._log.parent)
        port = free_port()
        # A genesis time at a random point in the last ~11 days: two nodes
        # started in the same second still get different genesis hashes.
        genesis = int(time.time()) - secrets.randbelow(1_000_000)
        args = _base_args(port, self._keep_states) + ["--timestamp", str(genesis)]
        self._proc = _spawn(args, self._log)
        self.url = f"http://127.0.0.1:{port}"
        _wait_ready(self._proc, self.url, self._log)
        return self

    @property
    def pid(self) -> int:
        """The anvil process's id (benchmarks read its CPU time)."""
        assert self._proc is not None, "the node is not running"
        return self._proc.pid

    def __exit__(self, *exc: object) -> None:
        if self._proc and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as gone.
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _command_line(pid: int) -> list[str]:
    """The process's argv (empty when it cannot be read)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return [a.decode(errors="replace") for a in raw.split(b"\0") if a]
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return []  # Linux, and the process is gone
    except OSError:
        return []
    try:  # no /proc (macOS): ask ps; arguments with spaces are not told apart, which the check tolerates
        out = subprocess.run(["ps", "-o", "command=", "-p", str(pid)], capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return []
    return out.stdout.split()


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
