"""`provenance verify FILE... --html OUT`: the web page's report as one self-contained file."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image

EXE = Path(sys.executable).parent / "provenance"


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_verify_writes_a_self_contained_html_report(parts, certify, photo, tmp_path):
    (minted,) = certify(photo)
    copy = tmp_path / "copy.jpg"
    with Image.open(photo) as img:
        img.convert("RGB").resize((img.width // 2, img.height // 2)).save(copy, quality=85)
    out = tmp_path / "report.html"
    proc = subprocess.run(
        [str(EXE), "verify", str(photo), str(copy), "--html", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ},
    )
    assert proc.returncode == 3, proc.stderr  # the highest exit code: modified
    assert "Traceback" not in proc.stderr
    html = out.read_text(encoding="utf-8")
    parsed = _Collect()
    parsed.feed(html)
    reports = [a for t, a in parsed.tags if a.get("data-testid") == "report"]
    assert [r["data-status"] for r in reports] == ["verified", "modified"]
    images = [a["src"] for t, a in parsed.tags if t == "img"]
    # received + received, and the certified picture (from the store) beside the modified copy
    assert len(images) == 3 and all(src.startswith("data:image/jpeg;base64,") for src in images)
    # Nothing to fetch when opened offline: no scripts, stylesheets or images from elsewhere.
    assert not [t for t, a in parsed.tags if t in ("script", "link")]
    assert minted.token_id in html and f"ipfs://{minted.metadata_cid}" in html
    assert re.search(r"<style>.*\.report", html, re.S)
    # The modified copy's failed content_match reads "near", as the CLI prints it (its failure means "modified").
    rows = [a.get("class") for t, a in parsed.tags if t == "tr" and a.get("data-check") == "content_match"]
    assert rows == ["pass", "near"]


def test_html_report_shows_the_c2pa_section(parts, tmp_path):
    from tests.c2pa.conftest import SAMPLES

    if not SAMPLES.is_dir():
        pytest.skip(f"C2PA samples not found at {SAMPLES}")
    signed, bare = tmp_path / "C.jpg", tmp_path / "no_manifest.jpg"
    shutil.copyfile(SAMPLES / "C.jpg", signed)
    shutil.copyfile(SAMPLES / "no_manifest.jpg", bare)
    out = tmp_path / "report.html"
    proc = subprocess.run(
        [str(EXE), "verify", str(signed), str(bare), "--html", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ},
    )
    assert proc.returncode == 4, proc.stderr  # neither is certified here, whatever its manifest says
    html = out.read_text(encoding="utf-8")
    first, second = html.split('data-testid="report"')[1:]
    assert 'data-testid="c2pa"' in first and "Valid" in first and "C2PA Signer" in first and "untrusted signer" in first
    assert "make_test_images/0.33.1" in first and "algorithmicMedia" in first
    assert re.search(r'data-testid="c2pa"[^>]*>\s*no C2PA manifest', second)


def test_html_report_draws_the_signed_face_boxes_on_their_picture(parts, tmp_path):
    """A face photo certified with the detectors: its boxes come back from the signed metadata, on the right picture."""
    from provenance.certify import Certifier, CertifyOptions
    from provenance.scanning import DetectorScanner
    from tests.server.test_face_boxes import FACES

    if not FACES.is_file():
        pytest.skip("../shared/corpus is absent")
    photo, smaller = tmp_path / "two_people.jpg", tmp_path / "smaller.jpg"
    shutil.copyfile(FACES, photo)
    (minted,) = Certifier(parts.chain, parts.store, parts.ledger, DetectorScanner()).certify([photo], CertifyOptions())
    faces = json.loads(parts.store.cat(minted.metadata_cid))["provenance"]["detection"]["faces"]
    with Image.open(photo) as img:
        img.resize((img.width // 2, img.height // 2)).save(smaller, quality=88)
    out = tmp_path / "report.html"
    proc = subprocess.run(
        [str(EXE), "verify", str(photo), str(smaller), "--html", str(out)], capture_output=True, text=True, timeout=180, env={**os.environ}
    )
    assert proc.returncode == 3, proc.stderr
    verified, modified = out.read_text(encoding="utf-8").split('data-testid="report"')[1:]

    def boxes_in(section: str, figure: str) -> list[dict[str, float]]:
        found = re.search(rf'data-testid="{figure}">(.*?)</figure>', section, re.S)
        shown = found.group(1) if found else ""
        styles = re.findall(r'data-testid="face-box"[^>]*style="([^"]*)"', shown)
        return [{k.strip(): float(v.strip().rstrip("%")) for k, v in (p.split(":") for p in s.split(";") if p.strip())} for s in styles]

    assert faces >= 2
    drawn = boxes_in(verified, "received-image")
    assert len(drawn) == faces
    for box in drawn:  # shares of the picture, inside it
        assert 0 <= box["left"] < box["left"] + box["width"] <= 100.001 and 0 <= box["top"] < box["top"] + box["height"] <= 100.001
    # The modified copy: the certified picture carries the certificate's boxes, the copy none.
    assert boxes_in(modified, "certified-image") == drawn and boxes_in(modified, "received-image") == []
    assert re.search(r'title="face score 0\.\d\d"', verified)
