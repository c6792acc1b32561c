"""`provenance models list|add|fetch` and the registry behind it, on real files and a real HTTP server."""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import socket
import threading
from pathlib import Path

import pytest
from test_mesonet import _write_keras_h5
from typer.testing import CliRunner

from cli.models_cmd import app
from detect import registry
from detect.models.mesonet import Meso4, MesoInception4
from tests.cli_json import result as json_result

runner = CliRunner()


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch) -> Path:
    home = tmp_path / "home"
    monkeypatch.setenv("PROVENANCE_HOME", str(home))
    empty = tmp_path / "no-corpus"
    empty.mkdir()
    monkeypatch.setenv("PROVENANCE_CORPUS", str(empty))  # as on a fresh machine
    return home


@pytest.fixture
def meso4_file(tmp_path) -> Path:
    path = tmp_path / "downloads" / "Meso4_DF.h5"
    path.parent.mkdir()
    _write_keras_h5(Meso4().eval(), path, 1)
    return path


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


BUNDLED = {"mtcnn", "effnet-lite0-probe", "effnet-lite0-face", "npr-cnn", "npr-cnn-face"}


def test_list_on_a_fresh_machine_shows_only_the_bundled_models() -> None:
    result = runner.invoke(app, ["list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json_result(result.stdout)["models"]}
    assert {name for name, row in rows.items() if row["source"] == "bundled"} == BUNDLED
    assert {name for name, row in rows.items() if row["source"] == "missing"} == set(rows) - BUNDLED
    assert rows["effnet-lite0-face"]["task"] == "face" and rows["effnet-lite0-probe"]["task"] == "image"
    assert rows["univfd"]["requires"] == ["clip-vit-l14"]
    assert rows["clip-vit-l14"]["published_sha256"] in rows["clip-vit-l14"]["url"]
    # Weights learnt from research-use data say so: FaceForensics++ terms carry over to the face CNN.
    assert "FaceForensics++" in rows["npr-cnn-face"]["licence"] and "research use only" in rows["npr-cnn-face"]["licence"]
    assert "non-commercial" in rows["npr-cnn"]["licence"]
    assert rows["npr-cnn"]["sha256"] == _sha(registry.TRAINED_WEIGHTS / "artifact_image.pt")


def test_add_validates_copies_and_records_the_sha256(isolated, meso4_file) -> None:
    result = runner.invoke(app, ["add", "mesonet", "--weights", str(meso4_file), "--json"])
    assert result.exit_code == 0, result.output
    added = json_result(result.stdout)
    installed = isolated / "models" / "meso4-df" / "Meso4_DF.h5"
    assert added["path"] == str(installed) and added["source"] == "added"
    assert installed.read_bytes() == meso4_file.read_bytes()
    index = json.loads((isolated / "models" / "index.json").read_text())
    assert index["meso4-df"]["sha256"] == _sha(meso4_file)
    assert added["matches_published"] is False  # a random model is not the published file
    detector = registry.load_detector("meso4-df")
    assert detector.card.name == "meso4-df" and detector.card.weights_sha256 == _sha(meso4_file)
    listed = {row["name"]: row for row in json_result(runner.invoke(app, ["list", "--json"]).stdout)["models"]}
    assert listed["meso4-df"]["source"] == "added"


def test_a_bad_file_is_refused_and_the_installed_one_survives(isolated, meso4_file, tmp_path) -> None:
    assert runner.invoke(app, ["add", "meso4-df", "--weights", str(meso4_file)]).exit_code == 0
    index_before = (isolated / "models" / "index.json").read_bytes()
    junk = tmp_path / "junk.h5"
    junk.write_bytes(b"this is not a checkpoint")
    inception = tmp_path / "MesoInception_DF.h5"
    _write_keras_h5(MesoInception4().eval(), inception, 1)
    for bad in (junk, inception, tmp_path / "absent.h5"):
        result = runner.invoke(app, ["add", "meso4-df", "--weights", str(bad)])
        assert result.exit_code == 1
        assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.output
    assert (isolated / "models" / "meso4-df" / "Meso4_DF.h5").read_bytes() == meso4_file.read_bytes()
    assert (isolated / "models" / "index.json").read_bytes() == index_before
    assert sorted(p.name for p in (isolated / "models" / "meso4-df").iterdir()) == ["Meso4_DF.h5"]  # no leftovers


def test_unknown_and_bundled_names_give_clear_errors(meso4_file) -> None:
    result = runner.invoke(app, ["add", "gpt-detector", "--weights", str(meso4_file)])
    assert result.exit_code == 1 and "unknown model 'gpt-detector'" in result.stderr
    result = runner.invoke(app, ["add", "mtcnn", "--weights", str(meso4_file)])
    assert result.exit_code == 1 and "ships with provenance" in result.stderr


@pytest.fixture
def server(tmp_path):
    """A local HTTP server over tmp_path/served."""
    root = tmp_path / "served"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *args: None  # type: ignore[attr-defined]
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_fetch_downloads_checks_the_sha256_and_installs(isolated, server, meso4_file) -> None:
    root, base = server
    (root / "Meso4_DF.h5").write_bytes(meso4_file.read_bytes())
    seen = []
    status = registry.fetch_model("meso4-df", url=f"{base}/Meso4_DF.h5", sha256=_sha(meso4_file), progress=lambda d, t: seen.append((d, t)))
    assert status.path.read_bytes() == meso4_file.read_bytes()
    assert seen[-1] == (meso4_file.stat().st_size, meso4_file.stat().st_size)
    assert registry.status("meso4-df").source == "added"


def test_fetch_refuses_a_file_whose_sha256_differs(isolated, server, meso4_file) -> None:
    root, base = server
    (root / "Meso4_DF.h5").write_bytes(meso4_file.read_bytes())
    # The pinned checksum is the published file's; this random model is not it.
    result = runner.invoke(app, ["fetch", "meso4-df", "--url", f"{base}/Meso4_DF.h5"])
    assert result.exit_code == 1
    assert "expected 036ed30d04ffd9c7" in result.stderr and "nothing installed" in result.stderr
    assert registry.status("meso4-df").source == "missing"
    assert list((isolated / "models" / "meso4-df").iterdir()) == []


def test_fetch_offline_and_missing_files_are_clear_errors(server) -> None:
    _root, base = server
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    result = runner.invoke(app, ["fetch", "meso4-df", "--url", f"http://127.0.0.1:{closed}/Meso4_DF.h5"])
    assert result.exit_code == 1 and "cannot download meso4-df" in result.stderr and "offline?" in result.stderr
    result = runner.invoke(app, ["fetch", "meso4-df", "--url", f"{base}/absent.h5"])
    assert result.exit_code == 1 and "HTTP 404" in result.stderr
    result = runner.invoke(app, ["fetch", "cnndetection"])
    assert result.exit_code == 1 and "no published sha256 is pinned" in result.stderr
    result = runner.invoke(app, ["fetch", "sbi", "--sha256", "00"])
    assert result.exit_code == 1 and "no download address" in result.stderr


def test_load_detector_names_what_is_missing() -> None:
    with pytest.raises(registry.ModelUnavailable, match="meso4-df weights not installed"):
        registry.load_detector("meso4-df")
    with pytest.raises(registry.ModelUnavailable, match="univfd weights not installed"):
        registry.load_detector("univfd")
    with pytest.raises(registry.ModelUnavailable, match="fetch clip-vit-l14"):
        registry.load_detector("clip-vit-l14")
    with pytest.raises(registry.ModelUnavailable, match="from its authors, then provenance models add sbi"):
        registry.load_detector("sbi")
    assert registry.installed_weights("sbi") is None


def test_bundled_face_finder_reports_the_identity_mtcnn_uses() -> None:
    from detect.faces import MTCNN

    assert registry.status("mtcnn").sha256 == MTCNN().weights_sha256


def test_bundled_probes_load_and_report_the_identity_their_detectors_use() -> None:
    for name in ("effnet-lite0-probe", "effnet-lite0-face"):
        detector = registry.load_detector(name)
        assert detector.card.name == name
        assert registry.status(name).sha256 == detector.card.weights_sha256
    result = runner.invoke(app, ["add", "effnet-lite0-face", "--weights", __file__])
    assert result.exit_code == 1 and "ships with provenance" in result.stderr
