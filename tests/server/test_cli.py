"""`provenance serve`, `worker` and `apikeys` as a user runs them (real subprocesses)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .conftest import free_port

EXE = Path(sys.executable).parent / "provenance"


def run(*args: str, timeout: int = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXE), *args], capture_output=True, text=True, timeout=timeout, env={**os.environ})


def test_apikeys_are_shown_once_and_stored_hashed(home):
    created = run("apikeys", "create", "newsroom", "--json")
    assert created.returncode == 0, created.stderr
    key = json.loads(created.stdout)["result"]["key"]
    assert key.startswith("prov_") and len(key) > 40
    listed = run("apikeys", "list", "--json")
    assert key not in listed.stdout and json.loads(listed.stdout)["result"]["keys"][0]["name"] == "newsroom"
    with sqlite3.connect(home / "ledger.db") as db:
        rows = db.execute("SELECT key_sha256, prefix FROM api_keys").fetchall()
    assert len(rows) == 1 and key not in "".join(rows[0]) and len(rows[0][0]) == 64
    assert run("apikeys", "revoke", "1").returncode == 0
    missing = run("apikeys", "revoke", "99")
    assert missing.returncode == 1 and missing.stderr.strip() == "error: no API key with id 99" and "Traceback" not in missing.stderr
    empty = run("apikeys", "create", "  ")
    assert empty.returncode == 1 and "needs a name" in empty.stderr


def test_serve_without_a_chain_is_one_line(home):
    proc = run("serve", "--port", str(free_port()), timeout=60)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1


def test_serve_runs_and_stops(parts, home):
    port = free_port()
    server = subprocess.Popen(
        [str(EXE), "serve", "--port", str(port)], env={**os.environ}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                break
            except httpx.HTTPError:
                assert server.poll() is None and time.monotonic() < deadline, "provenance serve did not start"
                time.sleep(0.2)
        assert r.status_code == 200 and r.json()["ok"] is True
        assert "Provenance" in httpx.get(f"http://127.0.0.1:{port}/").text
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    # A graceful stop: uvicorn shuts the app down (the worker thread with it), then re-raises SIGTERM.
    assert server.returncode in (0, -15) and "Application shutdown complete" in out and "Traceback" not in out


def test_other_commands_do_not_load_the_web_stack():
    for args in (["chain", "status", "--help"], ["verify", "--help"], ["apikeys", "list", "--help"]):
        proc = subprocess.run(
            [sys.executable, "-X", "importtime", "-m", "cli.main", *args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=Path(__file__).resolve().parents[2],
        )
        assert proc.returncode == 0, proc.stderr[-500:]
        loaded = {line.split("|")[-1].strip().split(".")[0] for line in proc.stderr.splitlines() if line.startswith("import time:")}
        assert not loaded & {"fastapi", "uvicorn", "starlette", "jinja2", "python_multipart", "torch"}, args


def _children(pid: int) -> set[int]:
    """Direct child processes of `pid` (from /proc)."""
    out = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                out.add(int(entry.name))
    return out


def test_serve_with_several_processes_answers_and_stops_them_all(parts, home, tmp_path):
    """`--processes 2`: two uvicorn processes share the port (more cores for verification); SIGTERM stops both."""
    from scripts.make_samples import scene

    photo = tmp_path / "p.png"
    scene(seed=5).save(photo)
    port = free_port()
    server = subprocess.Popen(
        [str(EXE), "serve", "--port", str(port), "--processes", "2", "--rate-limit", "0"],
        env={**os.environ},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 90
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200 and len(_children(server.pid)) >= 2:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "provenance serve --processes 2 did not start"
            time.sleep(0.3)
        # uvicorn's spawn start also runs a resource tracker: count the processes that serve.
        workers = {
            pid for pid in _children(server.pid) if "multiprocessing.resource_tracker" not in Path(f"/proc/{pid}/cmdline").read_text()
        }
        assert len(workers) == 2, workers
        answered = []
        for _ in range(12):  # fresh connections: the kernel hands each to one of the processes
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
                r = client.post("/v1/verify", files={"file": ("p.png", photo.read_bytes(), "image/png")})
            assert r.status_code == 200 and r.json()["status"] == "not_found", r.text
            answered.append(r.status_code)
        assert len(answered) == 12
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=60)
    assert server.returncode in (0, -15), out
    assert "Traceback" not in out
    for pid in workers:
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
