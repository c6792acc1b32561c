"""The CLI contract of docs/cli.md where no chain is needed: the JSON envelope on success and on a fatal
error, exit codes, one-line errors without tracebacks, one error root, and no torch for commands that
run no detector."""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from PIL import Image

from tests.cli_json import envelope

REPO = Path(__file__).resolve().parents[1]
EXE = Path(sys.executable).parent / "provenance"
CLOSED = "http://127.0.0.1:9"  # the discard port: nothing answers JSON-RPC there


def _run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([str(EXE), *map(str, args)], capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})


@pytest.fixture
def image(tmp_path) -> Path:
    path = tmp_path / "photo.png"
    Image.radial_gradient("L").convert("RGB").resize((128, 128)).save(path)
    return path


def _one_line_error(proc: subprocess.CompletedProcess) -> str:
    assert "Traceback" not in proc.stdout + proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    return lines[0]


def test_per_file_command_envelope_lists_files_and_per_file_errors(home, image, tmp_path):
    missing = tmp_path / "gone.png"
    proc = _run("hash", "--json", image, missing)
    doc = envelope(proc.stdout, "hash")
    assert proc.returncode == 1 == doc["exit_code"] and doc["ok"] is False and doc["status"] == "error"
    assert [f["file"] for f in doc["files"]] == [str(image), str(missing)] and "result" not in doc
    assert len(doc["files"][0]["sha256"]) == 64 and "error" in doc["files"][1]
    (err,) = doc["errors"]
    assert err["file"] == str(missing) and err["type"] and err["message"] == doc["files"][1]["error"]

    ok = _run("hash", "--json", image)
    doc = envelope(ok.stdout, "hash")
    assert (ok.returncode, doc["ok"], doc["exit_code"], doc["status"], doc["errors"]) == (0, True, 0, "ok", [])


def test_single_result_command_envelope(home, image):
    proc = _run("ipfs", "cid", "--json", image)
    doc = envelope(proc.stdout, "ipfs cid")
    assert proc.returncode == 0 and doc["ok"] and doc["result"]["cid"].startswith("Qm") and "files" not in doc


def test_chain_status_without_a_chain_is_an_envelope_with_exit_1(home):
    proc = _run("chain", "status", "--json", env={"PROVENANCE_RPC_URL": CLOSED})
    doc = envelope(proc.stdout, "chain status")
    assert proc.returncode == 1 and doc["exit_code"] == 1 and doc["result"]["running"] is False
    assert "Traceback" not in proc.stderr


@pytest.mark.parametrize(
    "args, env, command, error_type",
    [
        (("verify", "--json", "{image}"), {"PROVENANCE_TRUSTED_ISSUERS": "alice"}, "verify", "ConfigError"),
        (("show", "--json", "0x01"), {"PROVENANCE_RPC_URL": CLOSED}, "show", None),
        (("ledger", "list", "--json"), {"PROVENANCE_CONFIRMATIONS": "-3"}, "ledger list", "ConfigError"),
        (("ipfs", "pin", "--json", "QmNotACid"), {}, "ipfs pin", None),
    ],
)
def test_a_fatal_error_still_prints_the_envelope_and_one_line(home, image, args, env, command, error_type):
    proc = _run(*(a.format(image=image) for a in args), env=env)
    line = _one_line_error(proc)
    doc = envelope(proc.stdout, command)
    assert proc.returncode == 1 and doc["ok"] is False and doc["exit_code"] == 1 and doc["status"] == "error"
    assert doc.get("files", []) == [] and doc.get("result") is None
    (err,) = doc["errors"]
    assert err["message"] in line and "file" not in err
    if error_type:
        assert err["type"] == error_type


@pytest.mark.parametrize(
    "args, command",
    [
        (("mint", "--json", "--no-detect", "--to", "0x123", "{image}"), "mint"),
        (("mint", "--json", "--no-detect", "--generator", "[1]", "{image}"), "mint"),
        (("reattest", "--json"), "reattest"),
        (("ipfs", "cid", "--json", "--cid-version", "7", "{image}"), "ipfs cid"),
    ],
)
def test_usage_errors_exit_2_with_the_envelope(home, image, args, command):
    proc = _run(*(a.format(image=image) for a in args), env={"PROVENANCE_RPC_URL": CLOSED})
    _one_line_error(proc)
    doc = envelope(proc.stdout, command)
    assert proc.returncode == 2 == doc["exit_code"] and doc["errors"][0]["type"] == "CommandError"


def test_human_errors_print_no_json(home, image):
    proc = _run("verify", image, env={"PROVENANCE_TRUSTED_ISSUERS": "alice"})
    assert proc.returncode == 1 and proc.stdout == ""
    _one_line_error(proc)


_PROBE = """
import json, sys
from cli.main import app
try:
    app(sys.argv[2:], prog_name="provenance")
except SystemExit:
    pass
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("torch", "detect", "torchvision", "timm"))
with open(sys.argv[1], "w") as out:
    json.dump(heavy, out)
"""


@pytest.mark.parametrize(
    "args",
    [
        ("chain", "status", "--help"),
        ("--help",),
        ("chain", "status", "--json"),
        ("ipfs", "cid", "{image}"),
        ("show", "0x01"),
        ("ledger", "list"),
    ],
)
def test_commands_that_run_no_detector_never_import_torch_or_detect(home, image, tmp_path, args):
    assert _heavy_modules(tmp_path, args) == []


@pytest.mark.parametrize(
    "args",
    [
        ("hash", "--json", "{image}"),  # hashes the image: the compiled pHash kernel needs no torch
        ("verify", "--json", "{image}"),  # no chain: an error envelope, after importing the verifier and hashing
        ("mint", "--no-detect", "--json", "{image}"),
    ],
)
def test_hashing_commands_never_import_torch_or_the_detectors(home, image, tmp_path, args):
    """pHash on the CPU runs in the compiled kernel (provenance/hashing/lanczos_native.py): no torch, no `detect`."""
    assert _heavy_modules(tmp_path, args, image) == []


def test_hash_probe_hashed_the_image(home, image, tmp_path):
    """The `hash` case above really hashes (so the check covers pHash and PDQ, not only imports)."""
    proc = subprocess.run(
        [sys.executable, "-m", "cli.main", "hash", "--json", str(image)], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert len(envelope(proc.stdout)["files"][0]["phash"]) == 16


def test_importing_the_verifier_and_hashing_leaves_torch_out():
    probe = (
        "import sys, provenance.verify.verifier, provenance.hashing, provenance.hashing.phash; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'detect')))"
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_mint_and_verify_on_a_chain_hash_without_torch(anvil, home, image, tmp_path, monkeypatch):
    """Against a real chain, `mint --no-detect` and `verify` hash the image (verify finds the certificate)
    and still load neither torch nor `detect`."""
    from provenance.chain import deploy, open_web3
    from provenance.chain.keys import dev_account
    from provenance.chain.node import DEV_PRIVATE_KEY
    from provenance.chain_admin import chain_config
    from provenance.config import load_settings

    monkeypatch.setenv("PROVENANCE_RPC_URL", anvil.url)
    monkeypatch.setenv("PROVENANCE_PRIVATE_KEY", DEV_PRIVATE_KEY)  # the public dev key, passed as a user would
    deploy(chain_config(load_settings()), open_web3(anvil.url), anvil.url, dev_account())
    stdout, heavy = _probe(tmp_path, ("mint", "--no-detect", "--json", str(image)), os.environ)
    (minted,) = envelope(stdout, "mint")["files"]
    assert minted["token_id"] and heavy == [], (minted, heavy)
    stdout, heavy = _probe(tmp_path, ("verify", "--json", str(image)), os.environ)
    (verified,) = envelope(stdout, "verify")["files"]
    assert verified["status"] == "verified" and verified["token_id"] == minted["token_id"], verified
    assert heavy == []


def _heavy_modules(tmp_path: Path, args: tuple[str, ...], image: Path | None = None) -> list[str]:
    image = image or tmp_path / "photo.png"
    argv = [a.format(image=image) for a in args]
    return _probe(tmp_path, argv, {**os.environ, "PROVENANCE_RPC_URL": CLOSED})[1]


def _probe(tmp_path: Path, argv: Sequence[str], env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Run the CLI in a fresh interpreter: its stdout, and the heavy modules it had loaded at the end."""
    report = tmp_path / "modules.json"
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(report), *argv], cwd=REPO, env=dict(env), capture_output=True, text=True, timeout=120
    )
    return proc.stdout, json.loads(report.read_text())


def test_the_probe_sees_torch_where_a_detector_runs(home, image, tmp_path):
    """The lazy-import check above can fail: `detect` does load torch and detect."""
    report = tmp_path / "modules.json"
    subprocess.run(
        [sys.executable, "-c", _PROBE, str(report), "detect", "--json", str(image)],
        cwd=REPO,
        env={**os.environ, "PROVENANCE_DEVICE": "cpu"},
        capture_output=True,
        timeout=300,
    )
    loaded = json.loads(report.read_text())
    assert "torch" in loaded and "detect.analyze" in loaded


def _exception_classes(root: Path):
    for path in sorted(root.rglob("*.py")):
        if "train" in path.relative_to(root).parts:  # training code, never run by a command
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_") and node.name != "ProvenanceError":
                bases = {b.id for b in node.bases if isinstance(b, ast.Name)}
                if bases & {"Exception", "RuntimeError", "ValueError", "OSError"}:
                    yield f"{path.relative_to(REPO)}:{node.lineno} {node.name}"


def test_every_project_exception_derives_from_the_one_root():
    """A new exception class on a builtin base would escape the CLI's one error rendering as a traceback."""
    strays = [c for pkg in ("provenance", "detect", "cli") for c in _exception_classes(REPO / pkg)]
    assert strays == [], strays


def test_the_named_error_bases_share_the_root():
    from detect.errors import DetectError
    from provenance.chain.errors import ChainError
    from provenance.config import ConfigError
    from provenance.errors import ProvenanceError
    from provenance.hashing.errors import HashingError
    from provenance.ipfs.errors import IpfsError
    from provenance.ledger.store import LedgerError
    from provenance.media import MediaError
    from provenance.metadata import MetadataError
    from provenance.scanning import ScanError

    for base in (ChainError, ConfigError, DetectError, HashingError, IpfsError, LedgerError, MediaError, MetadataError, ScanError):
        assert issubclass(base, ProvenanceError), base
    assert ProvenanceError("two\nlines").user_message == "two; lines"
    assert ChainError("x").exit_code == 1


def test_provenance_errors_imports_nothing():
    """detect derives from it: it must not pull the service (chain, IPFS, ledger) into the detectors."""
    tree = ast.parse((REPO / "provenance" / "errors.py").read_text(encoding="utf-8"))
    imports = [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert all(isinstance(n, ast.ImportFrom) and n.module == "__future__" for n in imports)
