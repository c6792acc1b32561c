"""`provenance ipfs ...` commands, run through Typer and, for OS-level failures, as real processes."""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from cli.ipfs_cmd import app as ipfs_app
from provenance.ipfs import EmbeddedStore
from tests.cli_json import result as json_result
from tests.ipfs.conftest import kubo_random_bytes, write_kubo_random

REPO = Path(__file__).resolve().parents[2]
CHUNK = 256 * 1024

root = typer.Typer()
root.add_typer(ipfs_app, name="ipfs")


def run(*args: str):
    return CliRunner().invoke(root, ["ipfs", *args])


def test_cid_prints_what_ipfs_add_only_hash_prints(tmp_path, ipfs_home):
    path = tmp_path / "hello.txt"
    path.write_bytes(b"hello world")
    out = run("cid", str(path))
    assert out.exit_code == 0
    assert out.stdout == "added Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD hello.txt\n"
    out = run("cid", str(path), "--cid-version", "1")
    assert out.stdout == "added bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e hello.txt\n"
    out = run("cid", str(path), "--cid-version", "1", "--json")
    assert json_result(out.stdout)["cid"] == "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36n5e"
    assert not (ipfs_home / "ipfs").exists()  # only-hash stores nothing


def test_add_cat_pins_export_import_gc(tmp_path, ipfs_home):
    data = kubo_random_bytes(2 * CHUNK + 9, "cli")
    path = tmp_path / "media.bin"
    path.write_bytes(data)
    added = json_result(run("add", str(path), "--json").stdout)
    cid = added["cid"]
    assert added["profile"] == {
        "cid_version": 1,
        "raw_leaves": True,
        "chunker": "size-262144",
        "layout": "balanced",
        "max_links": 174,
        "hash": "sha2-256",
    }
    out_file = tmp_path / "back.bin"
    cat = json_result(run("cat", cid, "-o", str(out_file), "--json").stdout)
    assert out_file.read_bytes() == data and cat["size"] == len(data)
    assert json_result(run("pins", "--json").stdout)["pins"] == [cid]
    car = tmp_path / "media.car"
    assert json_result(run("export", cid, "-o", str(car), "--json").stdout)["blocks"] == 4
    assert run("unpin", cid).exit_code == 0
    assert json_result(run("gc", "--json").stdout)["removed"] == 4
    assert run("cat", cid).exit_code == 1
    imported = json_result(run("import", str(car), "--json").stdout)
    assert imported == {"roots": [cid], "blocks": 4}
    assert run("check", cid).exit_code == 0
    assert run("pin", cid, "--json").exit_code == 0


def test_check_lists_missing_and_invalid(tmp_path, ipfs_home):
    present = json_result(run("add", str(write_kubo_random(tmp_path / "a", 10, "a")), "--json").stdout)["cid"]
    listing = tmp_path / "cids.txt"
    listing.write_text(f"{present}\nQmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD\n")
    out = run("check", "not-a-cid", "--from-file", str(listing), "--json")
    assert out.exit_code == 1
    report = json_result(out.stdout)
    statuses = {r["cid"]: r["status"] for r in report["results"]}
    assert statuses == {
        "not-a-cid": "invalid",
        present: "ok",
        "Qmf412jQZiuVUtdgnB36FXFX7xg5V6KEbSJ4dpQuhkLyfD": "missing",
    }


@pytest.mark.parametrize(
    "args, code",
    [
        (["cat", "bafkreifzjut3te2nhyekklss27nh3k72ysco7y32koao5eei66wof36nXX"], 1),
        (["pin", "QmNotACid"], 1),
        (["cid", "/nonexistent/file"], 1),
        (["cid", "/etc/hostname", "--cid-version", "2"], 2),  # a usage error (docs/cli.md)
        (["import", "/nonexistent.car"], 1),
    ],
)
def test_bad_input_is_one_line_error_and_nonzero_exit(ipfs_home, args, code):
    out = run(*args)
    assert out.exit_code == code
    assert out.stdout == ""
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1
    assert "Traceback" not in out.stderr


def _cli_process(args, home: Path, **kwargs):
    env = {**os.environ, "PROVENANCE_HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("PROVENANCE_IPFS_BACKEND", None)
    code = "from cli.ipfs_cmd import app; app(prog_name='provenance ipfs')"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=60, **kwargs)


def _store_files(home: Path) -> dict[str, bytes]:
    base = home / "ipfs"
    return {str(p.relative_to(base)): p.read_bytes() for p in sorted(base.rglob("*")) if p.is_file() and p.name != "lock"}


def test_full_store_fails_cleanly_and_keeps_what_was_stored(tmp_path):
    home = tmp_path / "home"
    EmbeddedStore(home / "ipfs").add_bytes(b"precious")
    before = _store_files(home)
    big = write_kubo_random(tmp_path / "big", 4 * CHUNK, "full")

    def limit_file_size():
        # A file-size limit makes writes fail with EFBIG, as a full disk fails with ENOSPC.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))

    proc = _cli_process(["add", str(big)], home, preexec_fn=limit_file_size)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("error: store directory") and "full" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert _store_files(home) == before
    assert not any((home / "ipfs" / "tmp").iterdir())


def _read_only_runner(directory: Path):
    """A way to run the CLI with `directory` read-only: a read-only bind mount in a private
    mount namespace (works as root or not, where user namespaces are allowed), else file modes."""
    mount = f"mount --bind {directory} {directory} && mount -o remount,ro,bind {directory} {directory}"
    probe = subprocess.run(["unshare", "-rm", "sh", "-c", f"{mount} && ! touch {directory}/.probe"], capture_output=True)
    if probe.returncode == 0:

        def runner(args, home):
            code = "from cli.ipfs_cmd import app; app(prog_name='provenance ipfs')"
            script = f'{mount} && c="$1" && shift && exec "$0" -c "$c" "$@"'
            wrapped = ["unshare", "-rm", "sh", "-c", script, sys.executable, code, *args]
            env = {**os.environ, "PROVENANCE_HOME": str(home), "PYTHONDONTWRITEBYTECODE": "1"}
            return subprocess.run(wrapped, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)

        return runner
    if os.geteuid() != 0:
        for path in [directory, *directory.rglob("*")]:
            os.chmod(path, 0o555 if path.is_dir() else 0o444)
        return _cli_process
    pytest.skip("cannot make a directory read-only for root here (no user namespaces)")


def test_read_only_store_fails_cleanly(tmp_path):
    home = tmp_path / "home"
    precious = EmbeddedStore(home / "ipfs").add_bytes(b"precious").cid
    before = _store_files(home)
    media = tmp_path / "media.bin"
    media.write_bytes(b"new content")
    try:
        runner = _read_only_runner(home)
        proc = runner(["add", str(media)], home)
        assert proc.returncode == 1, proc.stderr
        assert proc.stderr.startswith("error: store directory") and "read-only" in proc.stderr
        assert "Traceback" not in proc.stderr
        assert _store_files(home) == before
        # reading a read-only store still works
        proc = runner(["cat", precious], home)
        assert (proc.returncode, proc.stdout) == (0, "precious")
    finally:
        for path in [home, *home.rglob("*")]:
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
