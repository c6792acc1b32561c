"""The CLI end to end: video certificates, detectors with --rescan, option errors, show and revoke."""

from __future__ import annotations

import pytest

from provenance.chain import DEV_ADDRESS

from .cli_helpers import json_out, run_cli
from .conftest import make_photo


def _clip(path, seed=0, frames=48, size=(96, 64)):
    import av
    import numpy as np

    rng = np.random.default_rng(seed)
    base = rng.integers(0, 255, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=12)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        for i in range(frames):
            img = np.kron(np.roll(base, i // 6, axis=1), np.ones((8, 8, 1), dtype=np.uint8))
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _reencode(src, dest):
    import av

    with av.open(str(src)) as inp, av.open(str(dest), "w") as out:
        stream = out.add_stream("libx264", rate=12)
        stream.width, stream.height, stream.pix_fmt = 96, 64, "yuv420p"
        stream.options = {"crf": "30"}
        for frame in inp.decode(video=0):
            for packet in stream.encode(frame.reformat(format="yuv420p")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return dest


@pytest.mark.slow
def test_video_certificate_exact_and_reencoded(parts, tmp_path):
    clip = _clip(tmp_path / "clip.mp4")
    minted = json_out(run_cli("mint", "--no-detect", "--json", clip))
    assert minted[0]["token_id"]
    show = json_out(run_cli("show", minted[0]["token_id"], "--json"))
    assert show["content_sha256"] == minted[0]["content_sha256"] and show["token_uri"] == f"ipfs://{minted[0]['metadata_cid']}"
    exact = run_cli("verify", "--json", clip)
    assert exact.returncode == 0, exact.stdout
    copy = _reencode(clip, tmp_path / "copy.mp4")
    modified = run_cli("verify", "--json", "--token", minted[0]["token_id"], copy)
    (report,) = json_out(modified)
    assert modified.returncode == 3 and report["status"] == "modified"
    assert report["match"]["hash_kind"] == "phash_frames"


@pytest.mark.slow
def test_detectors_verdict_and_rescan(parts, tmp_path):
    photo = make_photo(tmp_path / "p.png", seed=31)
    minted = json_out(run_cli("mint", "--json", photo, "--generator", '{"model": "procedural", "seed": 31}'))[0]
    assert minted["verdict"] in ("likely_authentic", "uncertain", "likely_manipulated")
    (report,) = json_out(run_cli("verify", "--json", "--rescan", photo))
    rescan = [c for c in report["checks"] if c["check"] == "rescan"][0]
    assert rescan["passed"] and rescan["details"]["recorded"]["label"] == minted["verdict"]
    assert report["status"] == "verified"


def test_option_errors_are_one_line(parts, tmp_path):
    photo = make_photo(tmp_path / "p.png", seed=32)
    for args in (["--to", "0x123"], ["--generator", "{not json"], ["--generator", "[1]"]):
        proc = run_cli("mint", "--no-detect", *args, photo)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr and "error" in proc.stderr
    for cmd in (["show", "12345"], ["show", "nonsense"], ["verify", "--token", "0xzz", photo]):
        proc = run_cli(*cmd)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr


def test_revoke_then_verify_and_ledger_list(parts, tmp_path):
    photo = make_photo(tmp_path / "p.png", seed=33)
    token = json_out(run_cli("mint", "--no-detect", "--json", "--to", DEV_ADDRESS, photo))[0]["token_id"]
    revoked = run_cli("revoke", token, "--reason", "wrong file", "--json")
    assert revoked.returncode == 0, revoked.stderr
    (report,) = json_out(run_cli("verify", "--json", photo))
    assert report["status"] == "revoked" and "wrong file" in [c for c in report["checks"] if c["check"] == "not_revoked"][0]["reason"]
    listing = json_out(run_cli("ledger", "list", "--json"))
    assert [c["revoked"] for c in listing["certificates"]] == [True]
    again = run_cli("revoke", token, "--reason", "twice")
    assert again.returncode == 1 and "CertificateRevokedAlready" in again.stderr
