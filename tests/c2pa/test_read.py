"""Reading real manifests made by the C2PA reference implementation (../shared/c2pa, its README says what each holds)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from provenance.c2pa import C2paConfigError, ReadOptions, read_c2pa
from provenance.c2pa.report import C2paReport

UNTRUSTED = "signingCredential.untrusted"


def failures(report: C2paReport) -> list[str]:
    return sorted(report.failures)


def test_valid_single_manifest_declares_algorithmic_media(samples):
    r = read_c2pa(samples / "C.jpg")
    d = r.to_dict()
    assert d["present"] and d["state"] == "present" and d["validation_state"] == "Valid"
    assert failures(r) == [UNTRUSTED]  # the test signer is on no trust list
    untrusted = next(c for c in d["validation_codes"] if c["code"] == UNTRUSTED)
    assert untrusted["explanation"] == "signing certificate untrusted" and untrusted["kind"] == "failure"
    assert "assertion.dataHash.match" in [c["code"] for c in d["validation_codes"] if c["kind"] == "success"]
    assert d["claim_generator"].startswith("make_test_images/")
    assert d["signer"] == {
        "issuer": "C2PA Test Signing Cert",
        "common_name": "C2PA Signer",
        "algorithm": "Ps256",
        "signed_at": "2024-08-06T21:53:37+00:00",
        "trusted": False,
    }
    assert [(a["action"], a["digital_source_type"]) for a in d["actions"]] == [
        ("c2pa.created", "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia")
    ]
    # algorithmicMedia is made by a program, not by a trained model: not flagged generative.
    assert d["generative"] is False and d["ingredients"] == [] and len(d["manifests"]) == 1


def test_ingredient_is_reported(samples):
    d = read_c2pa(samples / "CA.jpg").to_dict()
    assert d["validation_state"] == "Valid"
    assert d["ingredients"] == [{"title": "A.jpg", "relationship": "parentOf", "format": "image/jpeg", "manifest": None}]
    assert [a["action"] for a in d["actions"]] == ["c2pa.opened", "c2pa.color_adjustments"]


def test_multi_manifest_edit_history(samples):
    d = read_c2pa(samples / "CACA.jpg").to_dict()
    assert d["validation_state"] == "Valid" and len(d["manifests"]) == 2
    first, active = d["manifests"]
    assert active["label"].endswith(":contentauth") and active["ingredients"][0]["title"] == "CA.jpg"
    # The active manifest's ingredient is the earlier manifest: the chain of edits.
    assert d["ingredients"][0]["manifest"] == first["label"]
    assert "ingredient.manifest.validated" in [c["code"] for c in d["ingredient_validation_codes"]]


def test_cawg_identity_and_digital_capture(samples):
    r = read_c2pa(samples / "C_with_CAWG_data.jpg")
    # The source type carries a stray leading space in this file: reported trimmed.
    assert r.digital_source_types == ["http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"]
    assert r.generative is False and r.validation_state == "Valid"
    assert failures(r) == ["cawg.x509.credential.untrusted", UNTRUSTED]
    assert "cawg.identity" in r.active.assertions


def test_broken_signature_is_invalid(samples):
    r = read_c2pa(samples / "E-sig-CA.jpg")
    assert r.present and r.validation_state == "Invalid"
    assert "claimSignature.mismatch" in failures(r)
    mismatch = next(c for c in r.codes if c.code == "claimSignature.mismatch")
    assert mismatch.explanation == "claim signature is not valid"
    assert "failures: claimSignature.mismatch" in r.summary()


def test_box_hash_bound_manifest(samples):
    r = read_c2pa(samples / "boxhash.jpg")
    assert r.validation_state == "Valid" and failures(r) == [UNTRUSTED]
    assert r.active.signer.algorithm == "Es256"


def test_video_with_two_manifests(samples):
    d = read_c2pa(samples / "legacy.mp4").to_dict()
    assert d["validation_state"] == "Valid" and len(d["manifests"]) == 2
    assert "assertion.bmffHash.match" in [c["code"] for c in d["validation_codes"]]
    assert d["ingredients"][0]["title"] == "video1.mp4"


def test_no_manifest(samples):
    d = read_c2pa(samples / "no_manifest.jpg").to_dict()
    assert d["present"] is False and d["state"] == "absent" and d["reason"] is None and d["validation_codes"] == []


def test_remote_manifest_is_unavailable_not_an_error(samples):
    d = read_c2pa(samples / "cloud.jpg").to_dict()
    assert d["state"] == "unavailable" and d["present"] is False
    assert d["remote_url"].startswith("https://cai-manifests.adobe.com/manifests/")
    assert "not fetched" in d["reason"]


def test_report_shape_is_stable(samples):
    """The documented keys (docs/verification.md) for every kind of outcome."""
    keys = {
        "present",
        "state",
        "validation_state",
        "generative",
        "digital_source_types",
        "claim_generator",
        "signer",
        "actions",
        "ingredients",
        "validation_codes",
        "ingredient_validation_codes",
        "manifests",
        "provenance",
        "remote_url",
        "reason",
    }
    for name in ("C.jpg", "no_manifest.jpg", "cloud.jpg", "E-sig-CA.jpg", "README.md"):
        d = read_c2pa(samples / name).to_dict()
        assert set(d) == keys, name
        json.dumps(d)


@pytest.mark.parametrize("cut", [0.5, 0.1])
def test_damaged_files_give_a_reason_never_a_traceback(samples, tmp_path, cut):
    data = (samples / "CACA.jpg").read_bytes()
    damaged = tmp_path / "cut.jpg"
    damaged.write_bytes(data[: int(len(data) * cut)])
    r = read_c2pa(damaged)
    assert r.state in ("error", "absent", "present")
    if r.state == "error":
        assert r.reason
    else:  # what c2pa could still read must not pass as intact
        assert r.state == "absent" or r.validation_state == "Invalid"


def test_garbled_manifest_bytes(samples, tmp_path):
    data = bytearray((samples / "C.jpg").read_bytes())
    start = data.find(b"jumb")
    assert start > 0
    for i in range(start + 40, start + 400, 7):
        data[i] ^= 0x5A
    bad = tmp_path / "garbled.jpg"
    bad.write_bytes(bytes(data))
    r = read_c2pa(bad)
    assert r.state == "error" or r.validation_state == "Invalid", r.to_dict()


def test_not_media_empty_and_missing(tmp_path):
    text = tmp_path / "a.jpg"
    text.write_text("not a picture")
    assert read_c2pa(text).state == "unsupported"
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    assert read_c2pa(empty).state == "unsupported"
    missing = read_c2pa(tmp_path / "missing.jpg")
    assert missing.state == "error" and "No such file" in missing.reason
    assert read_c2pa(tmp_path).state == "unsupported"  # a folder
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    assert read_c2pa(fifo).state == "unsupported"  # returns at once: no writer is waited for
    assert read_c2pa(Path("/dev/zero")).state == "unsupported"


def test_trust_anchor_file_that_cannot_be_used(tmp_path, home):
    from provenance.config import load_settings

    (home / "config.toml").write_text(f'[c2pa]\ntrust_anchors = "{tmp_path / "nope.pem"}"\n')
    with pytest.raises(C2paConfigError, match="nope.pem"):
        ReadOptions.from_settings(load_settings())
    junk = tmp_path / "junk.pem"
    junk.write_text("hello")
    (home / "config.toml").write_text(f'[c2pa]\ntrust_anchors = "{junk}"\n')
    with pytest.raises(C2paConfigError, match="no PEM certificate"):
        ReadOptions.from_settings(load_settings())


def test_unknown_c2pa_setting_is_refused(home):
    from provenance.config import ConfigError, load_settings

    (home / "config.toml").write_text('[c2pa]\ntrust_anchor = "x.pem"\n')
    with pytest.raises(ConfigError, match="c2pa_trust_anchor"):
        load_settings()


def test_commands_that_read_no_manifest_do_not_load_c2pa():
    code = "import sys, cli.main; import provenance.verify.verifier, provenance.certify; print('c2pa' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=Path(__file__).parents[2])
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_which_source_types_count_as_generative():
    from provenance.c2pa.sources import is_generative

    ns = "http://cv.iptc.org/newscodes/digitalsourcetype/"
    for term in ("trainedAlgorithmicMedia", "compositeWithTrainedAlgorithmicMedia", "compositeSynthetic", "dataDrivenMedia"):
        assert is_generative(ns + term) and is_generative(" https://cv.iptc.org/newscodes/digitalsourcetype/" + term + "/")
    for term in ("digitalCapture", "algorithmicMedia", "algorithmicallyEnhanced", "humanEdits", "compositeCapture", ""):
        assert not is_generative(ns + term)
    assert not is_generative(None) and not is_generative("")


def test_many_bogus_manifest_segments_are_read_in_bounded_time(samples, tmp_path):
    """~6 MB of APP11 segments claiming JUMBF boxes in front of a real manifest: an answer, quickly, no traceback."""
    import struct
    import time

    body = b"JP" + b"\x00\x01" + struct.pack(">I", 1) + b"\x00\x00\xff\xffjumb"
    segment = b"\xff\xeb" + struct.pack(">H", 65535) + body + b"\x00" * (65535 - 2 - len(body))
    data = (samples / "C.jpg").read_bytes()
    hostile = tmp_path / "hostile.jpg"
    hostile.write_bytes(data[:2] + segment * 100 + data[2:])
    started = time.monotonic()
    r = read_c2pa(hostile)
    assert time.monotonic() - started < 10
    assert r.state in ("present", "error") and (r.state == "error") == bool(r.reason)


def test_a_file_without_any_manifest_marker_is_absent_without_the_reference_reader(tmp_path, monkeypatch):
    """The service verifies mostly files with no C2PA at all: those skip c2pa's reader (about 1.5 ms each)."""
    import c2pa
    from PIL import Image

    plain = tmp_path / "plain.png"
    Image.new("RGB", (64, 48), (120, 30, 200)).save(plain)

    def no_reader(*args, **kwargs):
        raise AssertionError("c2pa.Reader was called for a file with no manifest marker")

    monkeypatch.setattr(c2pa, "Reader", no_reader)
    report = read_c2pa(plain)
    assert report.state == "absent" and report.reason is None
    jpeg = tmp_path / "plain.jpg"
    Image.new("RGB", (64, 48), (120, 30, 200)).save(jpeg, quality=90, exif=b"Exif\x00\x00II*\x00\x08\x00\x00\x00\x00\x00")
    assert read_c2pa(jpeg).state == "absent"
    # A caBX chunk (PNG), an APP11 segment (JPEG) or XMP naming a remote manifest sends the file to the reader.
    import struct
    import zlib

    data = plain.read_bytes()
    chunk = b"caBX" + b"jumb"
    marked = tmp_path / "marked.png"
    marked.write_bytes(data[:33] + struct.pack(">I", 4) + chunk + struct.pack(">I", zlib.crc32(chunk)) + data[33:])
    app11 = jpeg.read_bytes()
    app11_file = tmp_path / "app11.jpg"
    app11_file.write_bytes(app11[:2] + b"\xff\xeb\x00\x06JPxx" + app11[2:])
    xmp = tmp_path / "xmp.jpg"
    xmp.write_bytes(app11[:2] + b"\xff\xe1\x00\x20http://ns.adobe.com/provenance" + app11[2:])
    other_xmp = tmp_path / "other_xmp.jpg"  # well-formed XMP without a remote reference: still absent, without the reader
    other_xmp.write_bytes(app11[:2] + b"\xff\xe1\x00\x20http://ns.adobe.com/xap/1.0/xx" + app11[2:])
    assert read_c2pa(other_xmp).state == "absent"
    for path in (marked, app11_file, xmp):
        with pytest.raises(AssertionError, match="c2pa.Reader was called"):
            read_c2pa(path)


def test_the_marker_shortcut_never_hides_a_reference_manifest(samples, monkeypatch):
    """Every reference file the reader finds something in (embedded or remote) holds a marker."""
    from provenance.c2pa import reader

    for path in sorted(samples.iterdir()):
        with open(path, "rb") as stream:
            mime = reader._mime(stream)
            marked = mime is None or reader.may_hold_manifest(stream, mime)
        if not marked:
            assert read_c2pa(path).state in ("absent", "unsupported"), path.name
    assert sum(1 for p in samples.iterdir() if read_c2pa(p).state in ("present", "unavailable")) >= 8
