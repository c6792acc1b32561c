"""Reliability under faults, concurrency and attack (issue 16): every figure a count of trials.

Real `provenance` processes on homes of their own, each with a real anvil node
(`provenance chain up`), the embedded IPFS store or a js-ipfs daemon, SQLite
ledgers; faults are real too (SIGKILL, a deleted chain state, `anvil_reorg`,
a full tmpfs, servers that flood, trickle or lie). After every trial the home's
ledger is audited against its chain (tests/reliability/harness.py): a
certificate the ledger claims that the chain lacks is a *phantom*, a token with
more than one CertificateIssued event a *double mint*.

    .venv/bin/python bench/bench_reliability.py --out bench/results/reliability.md      # everything (~30 min on 2 cores)
    .venv/bin/python bench/bench_reliability.py --quick                                   # a few small trials of each: a smoke run
    .venv/bin/python bench/bench_reliability.py --only kill,mutants --mutants 120

Scenarios: kill (mint SIGKILLed), node (anvil SIGKILLed), reset, reorg, ipfs,
gateway, diskfull, concurrent, mutants.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.reliability.harness import (  # noqa: E402
    Audit,
    Home,
    IpfsPeer,
    ReadOnly,
    Run,
    SmallDisk,
    audit,
    job_states,
    photos,
    sha256_of,
    stop_all,
)

FAILPOINTS = ["hashed", "scanned", "stored", "sent", "submitted", "confirmed"]
RSS_GOAL_MB = 2048
SECONDS_GOAL = 60


@dataclass
class Tally:
    """Counts over the runs of one scenario."""

    runs: int = 0
    tracebacks: int = 0
    unclear: list[str] = field(default_factory=list)  # non-zero exits without a one-line message

    def cell(self) -> str:
        unclear = f"; {len(self.unclear)} non-zero exits without a one-line error" if self.unclear else ""
        return f"{self.tracebacks} in {self.runs} runs{unclear}"

    def add(self, run: Run) -> Run:
        self.runs += 1
        if run.traceback:
            self.tracebacks += 1
            print(f"    TRACEBACK in {' '.join(run.args[:3])}: {run.stderr.strip().splitlines()[-1][:200]}", flush=True)
        elif run.code not in (0, -9) and not _one_line_error(run):
            self.unclear.append(run.brief())
        return run


@dataclass
class Audits:
    """The ledger-vs-chain audits of one scenario's trials, one after each (tests/reliability/harness.py)."""

    trials: int = 0
    certified: int = 0  # trials that ended with all their files certified
    phantoms: int = 0
    doubles: int = 0

    def add(self, result: Audit, certified: bool | None = None, phantoms_before: int = 0) -> Audit:
        """`certified`: the trial's own test where it differs from `result.ok`; `phantoms_before`: phantoms of an
        earlier audit of the same trial, counted too."""
        self.trials += 1
        self.certified += result.ok if certified is None else certified
        self.phantoms += len(result.phantom) + phantoms_before
        self.doubles += result.double_mints
        return result

    def cell(self, certified: str = "all files certified", phantoms: str = "phantom certificates") -> str:
        return f"{self.certified}/{self.trials} trials: {certified}; {self.phantoms} {phantoms}; {self.doubles} double mints"


def _one_line_error(run: Run) -> bool:
    """Every failure said in one line: `error: ...` lines on stderr, or per-file errors in the JSON."""
    lines = run.error_lines()
    if lines:
        return all(line.startswith("error:") for line in lines)
    try:
        doc = run.json()
    except ValueError:
        return False
    entries = doc["files"] if isinstance(doc, dict) and "files" in doc else doc
    errors = [str(e["error"]) for e in entries if isinstance(e, dict) and e.get("error")] if isinstance(entries, list) else []
    return bool(errors) and all("\n" not in e for e in errors)


def fault_row(scenario: str, trials: int, happened: str, outcome: str, tally: Tally) -> str:
    """A row of the faults table (report: scenario | trials | what happened | outcome | tracebacks)."""
    return f"| {scenario} | {trials} | {happened} | {outcome} | {tally.cell()} |"


def log(text: str) -> None:
    print(text, flush=True)


def _sync(home: Home, tally: Tally) -> dict:
    run = tally.add(home.cli("sync", "--json"))
    return run.json() if run.code == 0 else {}


def _mint_until_done(home: Home, files: list[Path], tally: Tally, extra: tuple[str, ...] = (), tries: int = 5) -> int:
    """Re-run `mint` until it exits 0; the number of re-runs it took (tries + 1 when it never did)."""
    for attempt in range(1, tries + 1):
        run = tally.add(home.cli("mint", "--no-detect", "--json", *extra, *files))
        if run.code == 0:
            return attempt
        log(f"    re-run {attempt}: {run.brief()}")
    return tries + 1


# ---- 1. the mint process SIGKILLed ----------------------------------------------------------------


def scenario_kill(work: Path, trials: int, files_per_trial: int, rng: random.Random) -> list[str]:
    tally = Tally()
    home = Home(work / "kill-home")
    up = tally.add(home.up())
    assert up.code == 0, up.stderr
    files = photos(work / "kill-calibrate", files_per_trial, 90_000)
    started = time.monotonic()
    calibration = tally.add(home.cli("mint", "--no-detect", "--json", "--batch", "5", *files))
    assert calibration.code == 0, calibration.stderr
    full = time.monotonic() - started
    log(f"  an uninterrupted mint of {files_per_trial} files takes {full:.1f} s")
    killed = finished_first = 0
    audits = Audits()
    reruns: Counter[int] = Counter()
    how: Counter[str] = Counter()
    for trial in range(trials):
        files = photos(work / f"kill-{trial}", files_per_trial, 100_000 + 1_000 * trial)
        contents = [sha256_of(p) for p in files]
        batch = rng.choice([1, 5, 10])
        args = ["mint", "--no-detect", "--json", "--batch", str(batch), *files]
        if trial % 2 == 0:
            delay = rng.uniform(0.3, full * 0.9)
            proc = home.spawn(*args)
            time.sleep(delay)
            proc.kill()
            first = tally.add(proc.finish())
            point = f"after {delay:.1f} s"
        else:
            name = rng.choice(FAILPOINTS)
            per_file = name in ("hashed", "scanned", "stored", "confirmed")
            nth = rng.randint(1, files_per_trial if per_file else -(-files_per_trial // batch))
            point = f"failpoint {name}@{nth}"
            first = tally.add(Home(home.path, extra={"PROVENANCE_FAILPOINT": f"{name}@{nth}"}).cli(*args))
        how[point.split("@")[0] if "@" in point else "random delay"] += 1
        if first.code == -9:
            killed += 1
        else:
            finished_first += 1
        rounds = _mint_until_done(home, files, tally, ("--batch", str(batch)))
        reruns[rounds] += 1
        # All files certified here; phantoms and double mints are counted on their own in the same cell.
        result = audit(home, contents)
        audits.add(result, certified=not result.missing and not result.unconfirmed)
        log(f"  trial {trial + 1}: batch {batch}, killed {point} (exit {first.code}); {rounds} re-run(s); {result.summary()}")
    tally.add(home.down())
    happened = (
        f"{killed} killed ({how['random delay']} at a random time, {trials - how['random delay']} at a random failpoint: "
        f"{', '.join(f'{k} {v}' for k, v in sorted(how.items()) if k != 'random delay')}), {finished_first} finished before the kill; "
        f"re-runs needed: {', '.join(f'{n}: {c}' for n, c in sorted(reruns.items()))}"
    )
    return [
        fault_row(
            f"SIGKILL of `mint` ({files_per_trial} files, --batch 1/5/10)",
            trials,
            happened,
            audits.cell(f"all {files_per_trial} files certified"),
            tally,
        )
    ]


# ---- 2. the chain node SIGKILLed, reset, reorganised -------------------------------------------------


def scenario_node(work: Path, trials: int, files_per_trial: int, rng: random.Random) -> list[str]:
    """anvil SIGKILLed while `mint` sends (--batch 1: a transaction per file), `chain up`, re-run."""
    tally = Tally()
    home = Home(work / "node-home")
    assert tally.add(home.up()).code == 0
    interrupted = lost = up_ok = 0
    audits = Audits()
    for trial in range(trials):
        files = photos(work / f"node-{trial}", files_per_trial, 200_000 + 1_000 * trial)
        contents = [sha256_of(p) for p in files]
        head = int(home.rpc("eth_blockNumber"), 16)
        proc = home.spawn("mint", "--no-detect", "--json", "--batch", "1", *files)
        # Killed while the mints go out: after the first is mined, at a random moment of the next ~0.4 s.
        deadline = time.monotonic() + 120
        while int(home.rpc("eth_blockNumber"), 16) == head and time.monotonic() < deadline and proc.proc.poll() is None:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.0, 0.4))
        home.kill_node()
        first = tally.add(proc.finish())
        interrupted += first.code != 0
        confirmed = job_states(home)["confirmed"] - trial * files_per_trial  # this trial's
        up = tally.add(home.up())
        up_ok += up.code == 0
        # What the ledger had confirmed that the restarted chain lost (anvil saves its state every second).
        before = audit(home, contents)
        lost += len(before.phantom)
        synced = _sync(home, tally)
        rounds = _mint_until_done(home, files, tally)
        result = audits.add(audit(home, contents))
        log(
            f"  trial {trial + 1}: {first.brief()} ({confirmed} confirmed before the kill), "
            f"chain up exit {up.code}, {len(before.phantom)} confirmed mints lost with the node, sync dropped {synced.get('dropped')}; "
            f"{rounds} re-run(s); {result.summary()}"
        )
    tally.add(home.down())
    happened = (
        f"{interrupted} runs ended early with one-line errors; `chain up` restarted the node {up_ok}/{trials}; "
        f"{lost} confirmed mints in all were lost with the node's last second and found by the re-run"
    )
    return [
        fault_row(
            f"SIGKILL of the chain node during `mint` ({files_per_trial} files, --batch 1), `chain up`, `sync`, re-run",
            trials,
            happened,
            audits.cell(),
            tally,
        )
    ]


def scenario_reset(work: Path, trials: int, files_per_trial: int, rng: random.Random) -> list[str]:
    """The chain's state deleted (a reset chain): `chain up` refuses, `chain up --redeploy`, re-run."""
    tally = Tally()
    refused = redeployed = clean_list = 0
    audits = Audits()
    for trial in range(trials):
        home = Home(work / f"reset-home-{trial}")
        assert tally.add(home.up()).code == 0
        files = photos(work / f"reset-{trial}", files_per_trial, 300_000 + 1_000 * trial)
        contents = [sha256_of(p) for p in files]
        assert tally.add(home.cli("mint", "--no-detect", "--json", "--batch", "3", *files)).code == 0
        if trial % 2:
            home.kill_node()  # reset while running: the node dies and its state goes with it
        else:
            tally.add(home.down())
        (home.path / "chain" / "state.json").unlink()
        up = tally.add(home.up())
        refused += up.code == 1 and "--redeploy" in up.stdout + up.stderr
        again = tally.add(home.up("--redeploy"))
        redeployed += again.code == 0
        listed = tally.add(home.cli("ledger", "list", "--json")).json()
        clean_list += listed["certificates"] == [] and listed["unfinished_jobs"] == []
        rounds = _mint_until_done(home, files, tally)
        result = audits.add(audit(home, contents))
        log(f"  trial {trial + 1}: chain up exit {up.code}, --redeploy exit {again.code}; {rounds} re-run(s); {result.summary()}")
        tally.add(home.down())
    happened = (
        f"`chain up` refused to redeploy over the ledger {refused}/{trials}; `--redeploy` {redeployed}/{trials}, "
        f"old certificates out of `ledger list` {clean_list}/{trials}"
    )
    return [
        fault_row(
            f"chain reset (state.json deleted after `chain down`, or with the node SIGKILLed) with {files_per_trial} certificates",
            trials,
            happened,
            audits.cell("all files certified again"),
            tally,
        )
    ]


def scenario_reorg(work: Path, trials: int, files_per_trial: int, rng: random.Random) -> list[str]:
    """The newest blocks replaced (`anvil_reorg`) or lost (evm_snapshot / evm_revert), then `sync` and re-run."""
    tally = Tally()
    home = Home(work / "reorg-home")
    assert tally.add(home.up()).code == 0
    rewound = indexed_before = dropped_total = lost_total = matched = 0
    audits = Audits()
    depths = []
    for trial in range(trials):
        files = photos(work / f"reorg-{trial}", files_per_trial, 400_000 + 1_000 * trial)
        contents = [sha256_of(p) for p in files]
        revert = trial % 2 == 1
        snapshot = home.rpc("evm_snapshot") if revert else None
        assert tally.add(home.cli("mint", "--no-detect", "--json", "--batch", "2", *files)).code == 0
        synced_before = trial % 4 >= 2
        if synced_before:
            _sync(home, tally)  # indexed before the chain changes: sync finds the fork by block hashes
        if revert:
            home.rpc("evm_revert", [snapshot])
            depth: int | str = "revert"
        else:
            depth = rng.randint(1, max(1, -(-files_per_trial // 2)))
            home.rpc("anvil_reorg", [depth, []])
            depths.append(depth)
        lost = len(audit(home, contents).phantom)  # certificates the ledger holds that the chain took back
        synced = _sync(home, tally)
        indexed_before += synced_before
        rewound += synced_before and synced.get("rewound_from") is not None
        dropped_total += synced.get("dropped") or 0
        lost_total += lost
        matched += synced.get("dropped") == lost
        rounds = _mint_until_done(home, files, tally)
        result = audits.add(audit(home, contents))
        log(
            f"  trial {trial + 1}: {'evm_revert' if revert else f'anvil_reorg of {depth} blocks'}, {lost} certificates lost, "
            f"sync dropped {synced.get('dropped')} (rewound from {synced.get('rewound_from')}); {rounds} re-run(s); {result.summary()}"
        )
    tally.add(home.down())
    scenario = (
        f"reorganisation: `anvil_reorg` of the last 1-{max(depths) if depths else 0} blocks, or the blocks lost (evm_revert), "
        f"after minting {files_per_trial} files; `sync`, re-run"
    )
    happened = (
        f"{lost_total} certificates taken back in all; `sync` dropped exactly those in {matched}/{trials} trials, and found the fork by "
        f"block hashes in {rewound}/{indexed_before} trials indexed before the change"
    )
    return [fault_row(scenario, trials, happened, audits.cell(), tally)]


# ---- 3. the IPFS backend down --------------------------------------------------------------------


def scenario_ipfs(work: Path, trials: int, files_per_trial: int, rng: random.Random) -> list[str]:
    """Kubo RPC backend (a js-ipfs daemon) SIGKILLed while `mint` adds; the embedded store made read-only."""
    from tests.ipfs.jsipfs import missing_reason

    rows = []
    reason = missing_reason()
    if reason:
        return [f"| IPFS backend (js-ipfs) SIGKILLed during `mint` | 0 | not run: {reason} | | |"]
    tally = Tally()
    peer = IpfsPeer(work / "jsipfs" / "repo").start()
    home = Home(work / "ipfs-home", extra={"PROVENANCE_IPFS_BACKEND": "kubo", "PROVENANCE_IPFS_API": peer.api_url})
    try:
        assert tally.add(home.up()).code == 0
        calibration = photos(work / "ipfs-calibrate", files_per_trial, 499_000)
        started = time.monotonic()
        assert tally.add(home.cli("mint", "--no-detect", "--json", *calibration)).code == 0
        full = time.monotonic() - started
        interrupted = verified = 0
        audits = Audits()
        for trial in range(trials):
            files = photos(work / f"ipfs-{trial}", files_per_trial, 500_000 + 1_000 * trial)
            contents = [sha256_of(p) for p in files]
            proc = home.spawn("mint", "--no-detect", "--json", *files)
            time.sleep(rng.uniform(0.4, 0.9) * full)
            peer.kill()
            first = tally.add(proc.finish())
            interrupted += first.code != 0
            peer.restart()
            rounds = _mint_until_done(home, files, tally)
            result = audits.add(audit(home, contents))
            checked = tally.add(home.cli("verify", "--json", *files))
            statuses = Counter(r["status"] for r in _entries(checked))
            verified += statuses.get("verified", 0) == files_per_trial
            log(f"  trial {trial + 1}: killed js-ipfs: {first.brief()}; {rounds} re-run(s); {result.summary()}; verify {dict(statuses)}")
        rows.append(
            fault_row(
                f"IPFS backend down: the Kubo RPC node (js-ipfs 0.66) SIGKILLed during `mint` ({files_per_trial} files), started again, re-run",
                trials,
                f"{interrupted} runs ended with one-line errors",
                audits.cell(f"all files certified; {verified}/{trials} all verified from the restarted node"),
                tally,
            )
        )
    finally:
        home.down()
        peer.stop()

    tally = Tally()
    home = Home(work / "ipfs-ro-home")
    assert tally.add(home.up()).code == 0
    blocked = 0
    audits = Audits()
    said: Counter[bool] = Counter()
    mode: str | None = "read-only bind mount"
    for trial in range(trials):
        files = photos(work / f"ipfs-ro-{trial}", files_per_trial, 600_000 + 1_000 * trial)
        contents = [sha256_of(p) for p in files]
        done_first = rng.randint(0, files_per_trial - 1)  # these went in before the store broke
        if done_first:
            assert tally.add(home.cli("mint", "--no-detect", "--json", *files[:done_first])).code == 0
        (home.path / "ipfs").mkdir(exist_ok=True)
        with ReadOnly(home.path / "ipfs") as ro:
            if not ro.available:
                mode = None
                break
            first = tally.add(home.cli("mint", "--no-detect", "--json", *files))
        blocked += first.code == 1
        said.update("read-only" in (r.get("error") or "") for r in _entries(first) if r.get("error"))
        rounds = _mint_until_done(home, files, tally)
        result = audits.add(audit(home, contents))
        log(
            f"  trial {trial + 1}: embedded store read-only after {done_first} files: {first.brief()}; {rounds} re-run(s); {result.summary()}"
        )
    tally.add(home.down())
    if mode is None:
        rows.append("| embedded IPFS store made read-only | 0 | not run: this process may not mount | | |")
    else:
        rows.append(
            fault_row(
                f"IPFS backend down: the embedded store's folder made read-only ({mode}) before a `mint` of {files_per_trial} files, "
                "some certified before; then writable, re-run",
                trials,
                f"{blocked} runs exit 1, {said[True]} per-file errors saying the store is read-only, {said[False]} other",
                audits.cell(),
                tally,
            )
        )
    return rows


def _entries(run: Run) -> list[dict]:
    """The per-file objects of a command's JSON envelope (docs/cli.md); none when it printed no JSON."""
    try:
        doc = run.json()
    except ValueError:
        return []
    if isinstance(doc, dict):
        doc = doc.get("files", [doc])
    return [e for e in doc if isinstance(e, dict)]


# ---- 4. hostile gateways during verify ----------------------------------------------------------


def scenario_gateway(work: Path, files_per_case: int) -> list[str]:
    """A verifier whose own store lacks the metadata reads it from gateways that flood, trickle, lie or redirect."""
    from contextlib import ExitStack

    from provenance.ipfs.embedded import EmbeddedStore
    from tests.ipfs.servers import ServedBytes, flood_handler, gateway_handler, redirect_handler, serve, trickle_handler

    tally = Tally()
    issuer = Home(work / "gateway-issuer")
    up = tally.add(issuer.up())
    files = photos(work / "gateway-media", files_per_case, 700_000)
    assert tally.add(issuer.cli("mint", "--no-detect", "--json", *files)).code == 0
    store = EmbeddedStore(issuer.path / "ipfs")
    rows = []
    try:
        with ExitStack() as stack:
            honest = stack.enter_context(serve(gateway_handler(store)))[1]
            flood = stack.enter_context(serve(flood_handler(ServedBytes(), total=1536 << 20)))[1]
            trickle = stack.enter_context(serve(trickle_handler(ServedBytes(), every_s=1.0, limit_s=300)))[1]
            liar = stack.enter_context(serve(gateway_handler(store, "tamper-all")))[1]
            away = stack.enter_context(serve(redirect_handler(ServedBytes(), honest)))[1]
            cases = [
                ("flood (1.5 GB for the 256 KiB metadata), honest", [flood, honest], "verified"),
                ("trickle (a byte a second), honest", [trickle, honest], "verified"),
                ("liar (every block altered), honest", [liar, honest], "verified"),
                ("redirect to another origin, honest", [away, honest], "verified"),
                ("flood, liar, honest", [flood, liar, honest], "verified"),
                ("flood, trickle, liar: no honest gateway", [flood, trickle, liar], "error"),
            ]
            for number, (name, gateways, expected) in enumerate(cases):
                home = Home(
                    work / f"gateway-verifier-{number}", rpc_url=issuer.node_url, extra={"PROVENANCE_IPFS_GATEWAYS": ",".join(gateways)}
                )
                assert tally.add(home.trust(up.json()["contract"])).code == 0
                run = tally.add(home.cli("verify", "--json", *files, timeout=900))
                statuses = Counter(e.get("status") for e in _entries(run))
                ok = statuses.get(expected) == files_per_case and run.rss_mb <= RSS_GOAL_MB
                log(f"  {name}: {run.brief()}; {dict(statuses)}; {run.rss_mb:.0f} MB")
                rows.append(
                    f"| {name} | {files_per_case} | {', '.join(f'{k} {v}' for k, v in sorted(statuses.items()))} "
                    f"(expected {expected}) | {statuses.get('tampered', 0)} | {run.seconds:.1f} | {run.rss_mb:.0f} | "
                    f"{'yes' if ok else 'NO'} | {'yes' if run.traceback else 'no'} |"
                )
    finally:
        tally.add(issuer.down())
    return rows


# ---- 5. a full disk --------------------------------------------------------------------------------


def scenario_diskfull(work: Path, trials: int, files_per_trial: int, rng: random.Random) -> tuple[list[str], str]:
    """$PROVENANCE_HOME on a small tmpfs (the chain in another home); it fills part-way through `mint`."""
    tally = Tally()
    chain = Home(work / "diskfull-chain")
    up = tally.add(chain.up())
    contract = up.json()["contract"]
    failed_runs = 0
    audits = Audits()
    said: Counter[str] = Counter()
    kind = ""
    try:
        for trial in range(trials):
            files = photos(work / f"diskfull-{trial}", files_per_trial, 900_000 + 1_000 * trial, size=(640, 480))
            contents = [sha256_of(p) for p in files]
            size_mb = rng.choice([2, 3, 4, 6])
            with SmallDisk(work / f"diskfull-fs-{trial}", size_mb) as disk:
                kind = disk.kind
                home = Home(disk.path / "home", rpc_url=chain.node_url, fsize=disk.fsize)
                assert tally.add(home.trust(contract)).code == 0
                first = tally.add(home.cli("mint", "--no-detect", "--json", *files))
                failed_runs += first.code == 1
                lines = first.error_lines() + [e["error"] for e in _entries(first) if e.get("error")]
                said.update("ledger" if "ledger" in line else "store" if "full" in line else "other" for line in lines)
                before = audit(home, contents)
                disk.grow(256)
                home.fsize = disk.fsize
                rounds = _mint_until_done(home, files, tally)
                result = audits.add(audit(home, contents), phantoms_before=len(before.phantom))
            log(
                f"  trial {trial + 1}: {size_mb} MiB {kind}: {first.brief()}; before space was freed {before.summary()}; "
                f"{rounds} re-run(s); {result.summary()}"
            )
    finally:
        tally.add(chain.down())
    return [
        fault_row(
            f"disk full: $PROVENANCE_HOME on a 2-6 MiB {kind} (chain elsewhere), {files_per_trial} files of ~0.6 MB; then room, re-run",
            trials,
            f"{failed_runs} runs exit 1 with one-line errors "
            f"({said['store']} store full, {said['ledger']} ledger full, {said['other']} other)",
            audits.cell(phantoms="phantom certificates (before and after)"),
            tally,
        )
    ], kind


# ---- 6. concurrent mints on one home --------------------------------------------------------------


def scenario_concurrent(work: Path, trials: int, processes: int, own: int, shared: int) -> list[str]:
    tally = Tally()
    home = Home(work / "concurrent-home")
    assert tally.add(home.up()).code == 0
    clean = 0
    audits = Audits()
    try:
        for trial in range(trials):
            common = photos(work / f"concurrent-{trial}-shared", shared, 950_000 + 1_000 * trial)
            sets = [photos(work / f"concurrent-{trial}-{p}", own, 951_000 + 1_000 * trial + 100 * p) for p in range(processes)]
            procs = [home.spawn("mint", "--no-detect", "--json", *files, *common) for files in sets]
            runs = [tally.add(proc.finish()) for proc in procs]
            errors = sum(1 for run in runs for e in _entries(run) if e.get("error"))
            clean += all(run.code == 0 for run in runs) and errors == 0
            contents = [sha256_of(p) for p in common + [f for files in sets for f in files]]
            result = audits.add(audit(home, contents))
            log(f"  trial {trial + 1}: exits {[run.code for run in runs]}, {errors} file errors; {result.summary()}")
    finally:
        tally.add(home.down())
    return [
        fault_row(
            f"{processes} `mint` processes at once on one home, {own} files each + {shared} given to all",
            trials,
            f"{clean}/{trials} trials: every process exit 0, no file error",
            audits.cell(f"all {processes * own + shared} files certified"),
            tally,
        )
    ]


# ---- 7. mutated media through hash, detect, mint, verify ---------------------------------------


@dataclass
class CommandTally:
    files: int = 0
    ok: int = 0
    errors: int = 0  # per-file errors
    clear: int = 0  # ... in one non-empty line naming the file
    tracebacks: int = 0  # batches whose output held a traceback
    culprits: list[str] = field(default_factory=list)  # files that, run alone, end in a traceback
    bad_exits: list[str] = field(default_factory=list)  # exits other than the command's documented ones
    controls: int = 0
    controls_ok: int = 0
    batches: int = 0
    seconds: float = 0.0
    max_batch_s: float = 0.0
    peak_rss_mb: float = 0.0
    alone: list[tuple[str, float, float]] = field(default_factory=list)  # slow path: (file, s, MB)
    outcome: dict[str, bool] = field(default_factory=dict)  # file -> accepted


EXITS = {"hash": {0, 1}, "mint": {0, 1}, "detect": {0, 1}, "verify": {0, 1, 3, 4, 5, 6, 7}, "mint (detectors)": {0, 1}}


def _run_batch(home: Home, command: list[str], name: str, files: list[Path], controls: list[Path], tally: CommandTally) -> None:
    run = home.cli(*command, *files, *controls, timeout=1800)
    tally.batches += 1
    tally.seconds += run.seconds
    tally.max_batch_s = max(tally.max_batch_s, run.seconds)
    tally.peak_rss_mb = max(tally.peak_rss_mb, run.rss_mb)
    if run.code not in EXITS[name]:
        tally.bad_exits.append(f"{name} batch: {run.brief()}")
    if run.traceback or run.timed_out:
        tally.tracebacks += run.traceback
        log(f"    {name}: {'TRACEBACK' if run.traceback else 'TIMEOUT'} in a batch of {len(files)}: {run.brief()}")
    entries = _entries(run)
    by_file = {e.get("file"): e for e in entries}
    for path in files:
        entry = by_file.get(str(path))
        tally.files += 1
        if entry is None:
            tally.errors += 1
            tally.outcome[str(path)] = False
            continue
        error = entry.get("error") or (entry.get("summary") or "error") if entry.get("status") == "error" or "error" in entry else None
        if error is None:
            tally.ok += 1
            tally.outcome[str(path)] = True
        else:
            tally.errors += 1
            tally.outcome[str(path)] = False
            tally.clear += bool(error.strip()) and "\n" not in error and str(path) in error
    for path in controls:
        entry = by_file.get(str(path))
        tally.controls += 1
        tally.controls_ok += entry is not None and "error" not in entry and entry.get("status", "verified") == "verified"
    if run.traceback or run.timed_out or run.seconds > SECONDS_GOAL:
        # The slow path: each file alone, to find the one that failed the batch or took the time.
        for path in files:
            alone = home.cli(*command, path, timeout=600)
            tally.alone.append((str(path), alone.seconds, alone.rss_mb))
            if alone.traceback:
                tally.culprits.append(str(path))


def scenario_mutants(
    work: Path, per_format: int, batch: int, commands: list[str], detect_batch: int | None = None
) -> tuple[list[str], list[str]]:
    from tests.reliability.mutate import FORMATS, make_seeds, mutants, write_mutants

    seeds = make_seeds(work / "mutant-seeds")
    made = mutants(seeds, per_format)
    written = write_mutants(work / "mutants", made)
    random.Random(16).shuffle(written)  # formats and kinds mixed in every batch
    kinds = Counter((m.fmt, m.kind) for _, m in written)
    log(
        f"  {len(written)} mutated files from {sum(len(v) for v in seeds.values())} seeds: "
        + ", ".join(f"{fmt} {sum(v for (f, _), v in kinds.items() if f == fmt)}" for fmt in FORMATS)
    )
    home = Home(work / "mutants-home")
    assert home.up().code == 0
    argv = {
        "hash": ["hash", "--json"],
        "detect": ["detect", "--json"],
        "mint": ["mint", "--no-detect", "--json"],
        "verify": ["verify", "--json"],
    }
    tallies = {}
    try:
        control_dir = work / "mutant-controls"
        for name in commands:
            size = detect_batch if name == "detect" and detect_batch else batch
            groups = [written[i : i + size] for i in range(0, len(written), size)]
            # An unmutated photo next to the mutants of every batch: the other files of a batch must be unaffected.
            controls = [photos(control_dir / f"b{number}", 1, 800_000 + number)[0] for number in range(len(groups))]
            tally = tallies[name] = CommandTally()
            started = time.monotonic()
            for number, group in enumerate(groups):
                _run_batch(home, argv[name], name, [p for p, _ in group], [controls[number]], tally)
            log(
                f"  {name}: {tally.ok} accepted, {tally.errors} refused ({tally.clear} in one line naming the file), "
                f"{tally.tracebacks} batches with a traceback, controls {tally.controls_ok}/{tally.controls}, "
                f"{time.monotonic() - started:.0f} s, peak {tally.peak_rss_mb:.0f} MB"
            )
        if "hash" in tallies and "detect" in tallies:
            # `mint` as users run it, with the detectors, on a part: every file hash and detect disagree on,
            # and a sample of the others.
            hashed, detected = tallies["hash"].outcome, tallies["detect"].outcome
            disagree = [p for p, _ in written if hashed[str(p)] != detected[str(p)]]
            rest = [p for p, _ in written if hashed[str(p)] == detected[str(p)]]
            subset = disagree + random.Random(7).sample(rest, min(len(rest), max(12, len(written) // 20)))
            with_detectors = Home(work / "mutants-home-detectors")
            assert with_detectors.up().code == 0
            try:
                tally = tallies["mint (detectors)"] = CommandTally()
                size = detect_batch or batch
                for number, start in enumerate(range(0, len(subset), size)):
                    control = photos(control_dir / f"d{number}", 1, 850_000 + number)
                    _run_batch(with_detectors, ["mint", "--json"], "mint (detectors)", subset[start : start + size], control, tally)
            finally:
                with_detectors.down()
            log(
                f"  mint with the detectors: {tally.ok} certified, {tally.errors} refused of {len(subset)} "
                f"({len(disagree)} on which hash and detect disagree)"
            )
    finally:
        home.down()
    rows = []
    for name, t in tallies.items():
        slowest = max((s for _, s, _ in t.alone), default=None)
        rows.append(
            f"| {name} | {t.files} in {t.batches} batches | {t.ok} | {t.errors} ({t.clear} one line naming the file) | "
            f"{t.tracebacks} ({len(t.culprits)} files) | {len(t.bad_exits)} | {t.controls_ok}/{t.controls} | "
            f"{t.peak_rss_mb:.0f} | {t.max_batch_s:.1f} | {t.seconds / max(1, t.files + t.controls):.2f} | "
            f"{len(t.alone)}" + (f" (slowest {slowest:.1f} s)" if slowest is not None else "") + " |"
        )
    notes = []
    if "hash" in tallies:
        for other in ("mint", "verify", "detect", "mint (detectors)"):
            if other in tallies:
                seen = [f for f in tallies["hash"].outcome if f in tallies[other].outcome]
                differ = [f for f in seen if tallies[other].outcome[f] != tallies["hash"].outcome[f]]
                more = [f for f in differ if tallies[other].outcome[f]]
                notes.append(
                    f"{other} accepted exactly the files hash accepted: {len(seen) - len(differ)}/{len(seen)}"
                    + (
                        f" (differs on {len(differ)}: {len(more)} accepted that hash refused, {len(differ) - len(more)} refused"
                        f" that hash accepted; e.g. {', '.join(Path(f).name for f in differ[:4])})"
                        if differ
                        else ""
                    )
                )
    by_kind: Counter[tuple[str, str]] = Counter()
    accepted: Counter[tuple[str, str]] = Counter()
    for path, mutant in written:
        by_kind[(mutant.fmt, mutant.kind)] += 1
        accepted[(mutant.fmt, mutant.kind)] += tallies.get("hash", CommandTally()).outcome.get(str(path), False)
    notes.append(
        "mutants by format and kind (accepted by hash / made): "
        + "; ".join(
            f"{fmt} " + ", ".join(f"{kind} {accepted[(fmt, kind)]}/{by_kind[(fmt, kind)]}" for kind in ("flip", "truncate", "header"))
            for fmt in FORMATS
        )
    )
    for t in tallies.values():
        notes += [f"traceback: {c}" for c in t.culprits] + t.bad_exits
    return rows, notes


def machine() -> str:
    model = ""
    try:
        model = next(line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name"))
        memory = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal")) / 1024**2
        memory_text = f", {memory:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        memory_text = ""
    return f"{platform.system()} {platform.release()}, {os.cpu_count()} cores{' (' + model + ')' if model else ''}{memory_text}"


SCENARIOS = ["kill", "node", "reset", "reorg", "ipfs", "gateway", "diskfull", "concurrent", "mutants"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default=",".join(SCENARIOS), help=f"comma-separated, of {', '.join(SCENARIOS)}")
    ap.add_argument("--quick", action="store_true", help="a few small trials of each: a smoke run, not figures")
    ap.add_argument("--kill-trials", type=int, default=20)
    ap.add_argument("--kill-files", type=int, default=50)
    ap.add_argument("--trials", type=int, default=5, help="trials of node, reorg, concurrent")
    ap.add_argument("--mutants", type=int, default=170, help="mutated files per format (6 formats)")
    ap.add_argument("--seed", type=int, default=16)
    ap.add_argument("--out", type=Path, help="write the report here (a bench/results section)")
    args = ap.parse_args()
    only = args.only.split(",")
    unknown = set(only) - set(SCENARIOS)
    if unknown:
        ap.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")
    quick = args.quick

    def n(full: int, small: int) -> int:
        return small if quick else full

    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="bench-reliability-"))
    started = time.monotonic()
    rows: list[str] = []
    gateway_rows: list[str] = []
    mutant_rows: list[str] = []
    notes: list[str] = []
    disk_kind = None
    try:
        for name in only:
            log(f"# {name}")
            t0 = time.monotonic()
            if name == "kill":
                rows += scenario_kill(work, n(args.kill_trials, 2), n(args.kill_files, 6), rng)
            elif name == "node":
                rows += scenario_node(work, n(args.trials, 1), n(20, 8), rng)
            elif name == "reset":
                rows += scenario_reset(work, n(4, 2), n(10, 4), rng)
            elif name == "reorg":
                rows += scenario_reorg(work, n(args.trials + 1, 2), n(10, 6), rng)
            elif name == "ipfs":
                rows += scenario_ipfs(work, n(3, 1), n(15, 6), rng)
            elif name == "gateway":
                gateway_rows = scenario_gateway(work, n(3, 1))
            elif name == "diskfull":
                got, disk_kind = scenario_diskfull(work, n(4, 1), n(12, 8), rng)
                rows += got
            elif name == "concurrent":
                rows += scenario_concurrent(work, n(args.trials, 1), 4, n(12, 4), n(4, 2))
            elif name == "mutants":
                mutant_rows, notes = scenario_mutants(
                    work, n(args.mutants, 7), n(60, 42), ["hash", "mint", "verify", "detect"], detect_batch=n(20, 42)
                )
            log(f"# {name}: {time.monotonic() - t0:.0f} s")
    finally:
        stop_all()
        shutil.rmtree(work, ignore_errors=True)
    minutes = (time.monotonic() - started) / 60
    command = (
        "`.venv/bin/python bench/bench_reliability.py"
        + (f" --only {args.only}" if args.only != ",".join(SCENARIOS) else "")
        + (" --quick" if quick else "")
        + (f" --out {args.out}" if args.out else "")
        + "`"
    )
    lines = report(command, rows, gateway_rows, mutant_rows, notes, disk_kind, minutes)
    print("\n".join(lines))
    if args.out:
        from bench.report import write_report

        write_report(lines, args.out)


def report(
    command: str, rows: list[str], gateway_rows: list[str], mutant_rows: list[str], notes: list[str], disk_kind: str | None, minutes: float
) -> list[str]:
    out = [
        "## Reliability: faults, concurrency and attack",
        "",
        f"{command} ({minutes:.0f} minutes). Machine: {machine()}, shared with other jobs.",
        "",
        "Every figure is a count. Each trial runs the real `provenance` command in its own process against a real anvil"
        " node (`provenance chain up`), the embedded IPFS store or a js-ipfs daemon, and a SQLite ledger; the faults are"
        " real (SIGKILL, a deleted state file, `anvil_reorg`, a full filesystem, hostile HTTP servers). After each trial"
        " the home's ledger is audited against the chain: a *phantom* is a certificate the ledger claims that the chain"
        " lacks (or holds with other metadata), a *double mint* a token with more than one CertificateIssued event."
        " *Tracebacks* counts every run of the trial (the faulted one and the re-runs) whose output held one.",
        "",
    ]
    if rows:
        out += ["| scenario | trials | what happened | outcome | tracebacks |", "|---|---|---|---|---|", *rows, ""]
        if disk_kind == "RLIMIT_FSIZE":
            out += ["The full disk was stood in for by a file size limit (RLIMIT_FSIZE): this machine did not allow mounting a tmpfs.", ""]
    if gateway_rows:
        out += [
            "**Hostile gateways during `verify`.** The issuer's home certified the files; a second home, on the same chain"
            " but with an empty store, verifies them reading the metadata through its configured gateways (servers on"
            " 127.0.0.1: a flood of 1.5 GB, a trickle of a byte a second, a liar altering every block, a redirect to"
            " another origin, an honest one). Goal: `verified` while an honest gateway is listed, `error` (unavailable)"
            " otherwise, never `tampered`, within 2 GB.",
            "",
            "| gateways, in order | files | statuses | tampered | seconds (all files) | peak RSS MB | as expected | traceback |",
            "|---|---|---|---|---|---|---|---|",
            *gateway_rows,
            "",
        ]
    if mutant_rows:
        out += [
            "**Mutated media.** Small seeds made at run time (JPEG baseline and progressive, PNG RGB and interlaced"
            " palette, WebP lossy and lossless, H.264 and MPEG-4 in MP4, H.264 and VP9 in MKV, VP8 and VP9 in WebM),"
            " mutated by bit flips, truncation and header edits (tests/reliability/mutate.py: a field the format's"
            " parser reads, found by walking its chunks, segments, boxes or EBML elements, set to 0, 1, the largest"
            " value, half, double or random; PNG CRCs mostly kept valid). Batches of mutants, each with one unmutated"
            " control photo, through `hash`, `mint --no-detect`, `verify` (after that mint) and `detect`; peak RSS is the"
            " kernel's for the command and its children. A batch's wall time bounds the time of each of its files; a"
            f' batch over {SECONDS_GOAL} s, or one with a traceback, is run again one file per process ("run alone").'
            " `mint (detectors)` is `mint` as users run it, detectors on, in a home of its own, over every file `hash`"
            " and `detect` disagree on and a random sample of the others."
            f" Goals: 0 tracebacks, at most {RSS_GOAL_MB} MB and {SECONDS_GOAL} s per file, controls unaffected.",
            "",
            "| command | files | accepted | refused (one-line error) | tracebacks (batches) | other exits | controls ok |"
            " peak RSS MB | slowest batch s | s per file | run alone |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
            *mutant_rows,
            "",
            *[f"- {note}" for note in notes],
            "",
        ]
    return out


if __name__ == "__main__":
    main()
