"""The web page in a real browser (Playwright driving Debian's Chromium): upload a file, read what is shown.

Each state gets a screenshot: into a temp folder, or into docs/img when
PROVENANCE_SCREENSHOTS names that folder (how the committed ones were made).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from provenance.certify import Certifier, CertifyOptions
from provenance.ipfs.cid import parse_cid
from provenance.scanning import DetectorScanner
from scripts.make_samples import scene

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str:
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    pytest.skip(f"no Chromium found on PATH (looked for {', '.join(CANDIDATES)}): `make setup` installs it with apt-get install chromium")


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as p:
        # --no-sandbox: the tests run as root in a container, where Chromium's sandbox cannot start.
        b = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("PROVENANCE_SCREENSHOTS") or tmp_path / "shots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def screenshot(page, folder: Path, name: str) -> Path:
    path = folder / f"page-{name}.png"
    page.screenshot(path=str(path), full_page=True)
    with Image.open(path) as img:  # a small palette PNG: these are committed to docs/img
        img.convert("RGB").quantize(colors=96).save(path, optimize=True)
    return path


def upload(page, server_url: str, path: Path) -> dict:
    """Pick the file in the page's file input (the page submits itself) and read the rendered report."""
    page.goto(server_url + "/")
    with page.expect_navigation():
        page.set_input_files("#file", str(path))
    report = page.locator("[data-testid=report]")
    checks = [[cell.inner_text() for cell in row.locator("td").all()] for row in page.locator("[data-testid=checks] tbody tr").all()]
    bars = {
        bar.get_attribute("data-name"): bar.get_attribute("data-score")
        for bar in page.locator("[data-testid=detection] [data-testid=bar]").all()
    }
    return {
        "status": report.get_attribute("data-status"),
        "shown": page.locator("[data-testid=status]").inner_text(),
        "meaning": page.locator("[data-testid=meaning]").inner_text(),
        "checks": checks,
        "bars": bars,
        "certificate": page.locator("[data-testid=certificate]").inner_text() if page.locator("[data-testid=certificate]").count() else "",
    }


def test_every_status_renders(server, parts, browser, shots, tmp_path):
    photo = tmp_path / "harbour.png"
    scene(seed=11).save(photo)
    revoked = tmp_path / "revoked.png"
    scene(seed=31).save(revoked)
    tampered = tmp_path / "tampered.png"
    scene(seed=41).save(tampered)
    # One certificate with the real detector ensemble's verdict, so the page has detector bars to draw.
    scanned = Certifier(parts.chain, parts.store, parts.ledger, DetectorScanner()).certify([photo], CertifyOptions())[0]
    plain = Certifier(parts.chain, parts.store, parts.ledger, _no_scan())
    gone, bad = plain.certify([revoked, tampered], CertifyOptions())
    parts.chain.registry.revoke(int(gone.token_id, 16), "issued in error")
    block = parts.store.blocks._path(parse_cid(bad.metadata_cid).multihash)
    doc = json.loads(block.read_bytes())
    doc["description"] = "edited after the fact"
    block.write_bytes(json.dumps(doc).encode())
    resized = tmp_path / "harbour-small.jpg"
    with Image.open(photo) as img:
        img.convert("RGB").resize((img.width // 2, img.height // 2), Image.LANCZOS).save(resized, quality=85)
    unrelated = tmp_path / "unrelated.png"
    scene(seed=999).save(unrelated)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a picture\n")

    page = browser.new_page(viewport={"width": 1000, "height": 900})
    blocked: list[str] = []  # anything the page's Content-Security-Policy refused
    page.on("console", lambda msg: "Content Security Policy" in msg.text and blocked.append(msg.text))

    seen = upload(page, server.url, photo)
    assert seen["status"] == "verified" and seen["shown"] == "VERIFIED"
    assert "byte for byte the certified content" in seen["meaning"]
    assert seen["checks"][-1][:2] == ["content_match", "pass"] and all(row[1] == "pass" for row in seen["checks"])
    assert scanned.token_id in seen["certificate"] and "Z" in seen["certificate"]  # token, ISO-8601 UTC time
    detection = scanned_detection(parts, scanned)
    assert float(seen["bars"]["ensemble"]) == pytest.approx(detection["score"])
    for d in detection["detectors"]:
        assert seen["bars"][d["name"]] == ("" if d.get("skipped") else str(d["score"]))
    assert page.locator("[data-testid=received-image] img").count() == 1
    # The bars are drawn (their width survives the page's Content-Security-Policy).
    width = page.locator("[data-testid=bar][data-name=ensemble] .fill").evaluate("e => e.getBoundingClientRect().width")
    track = page.locator("[data-testid=bar][data-name=ensemble] .track").evaluate("e => e.getBoundingClientRect().width")
    assert width == pytest.approx(track * detection["score"], abs=track * 0.01 + 1)
    screenshot(page, shots, "verified")

    seen = upload(page, server.url, resized)
    assert seen["status"] == "modified" and "not the same bytes" in seen["meaning"]
    # A failed check whose failure means "modified" reads "near" in the warning colour, as the CLI prints it.
    assert ["content_match", "near"] in [r[:2] for r in seen["checks"]]
    near = page.locator("[data-testid=checks] tr.near td:nth-child(2)")
    assert near.count() == 1 and near.evaluate("e => getComputedStyle(e).color") == "rgb(154, 103, 0)"
    assert page.locator("[data-testid=certified-image] img").count() == 1  # the certified picture, from the store
    assert page.locator("[data-testid=received-image] img").count() == 1
    assert "perceptual distance" in page.locator("[data-testid=distance]").inner_text()
    screenshot(page, shots, "modified")

    seen = upload(page, server.url, unrelated)
    assert seen["status"] == "not_found" and seen["checks"][0][:2] == ["lookup", "fail"]
    screenshot(page, shots, "not-found")

    seen = upload(page, server.url, revoked)
    assert seen["status"] == "revoked" and ["not_revoked", "fail"] in [r[:2] for r in seen["checks"]]
    assert "issued in error" in page.locator("[data-testid=revocation]").inner_text()  # the reason, beside the certificate
    screenshot(page, shots, "revoked")

    seen = upload(page, server.url, tampered)
    assert seen["status"] == "tampered" and ["metadata_integrity", "fail"] in [r[:2] for r in seen["checks"]]
    screenshot(page, shots, "tampered")

    seen = upload(page, server.url, notes)
    assert seen["status"] == "error" and "notes.txt: not a supported image or video" in page.inner_text("body")
    screenshot(page, shots, "error")

    page.goto(server.url + "/")
    screenshot(page, shots, "upload")
    assert blocked == []


def test_a_dropped_file_is_verified(server, certify, browser, tmp_path):
    photo = tmp_path / "dropped.png"
    scene(seed=12).save(photo)
    certify(photo)
    page = browser.new_page()
    page.goto(server.url + "/")
    data = list(photo.read_bytes())
    with page.expect_navigation():
        page.evaluate(
            """([bytes, name]) => {
                const dt = new DataTransfer();
                dt.items.add(new File([new Uint8Array(bytes)], name, {type: "image/png"}));
                document.getElementById("upload").dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true, cancelable: true}));
            }""",
            [data, photo.name],
        )
    assert page.locator("[data-testid=report]").get_attribute("data-status") == "verified"
    assert page.locator("[data-testid=report] .file").inner_text() == "dropped.png"


def scanned_detection(parts, result) -> dict:
    raw = parts.store.cat(result.metadata_cid)
    return json.loads(raw)["provenance"]["detection"]


def _no_scan():
    from provenance.scanning import NoScanner

    return NoScanner()


def test_untrusted_issuer_renders(start_server, certify, browser, shots, monkeypatch, tmp_path):
    photo = tmp_path / "elsewhere.png"
    scene(seed=13).save(photo)
    certify(photo)
    # This verifier trusts one other issuer only (a fixed, valid address nobody here holds the key of).
    monkeypatch.setenv("PROVENANCE_TRUSTED_ISSUERS", "0x000000000000000000000000000000000000dEaD")
    server = start_server()
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    seen = upload(page, server.url, photo)
    assert seen["status"] == "untrusted_issuer" and "does not trust" in seen["meaning"]
    assert ["issuer_trusted", "fail"] in [r[:2] for r in seen["checks"]]
    screenshot(page, shots, "untrusted-issuer")


def c2pa_shown(page) -> str:
    section = page.locator("[data-testid=c2pa]")
    assert section.count() == 1
    return section.inner_text()


def test_c2pa_sections_render(server, browser, shots, tmp_path):
    """Real manifests from the reference implementation (../shared/c2pa): what the page says of each."""
    from tests.c2pa.conftest import SAMPLES

    if not SAMPLES.is_dir():
        pytest.skip(f"C2PA samples not found at {SAMPLES}")
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    copies = {}
    for name in ("C.jpg", "CA.jpg", "E-sig-CA.jpg", "cloud.jpg", "no_manifest.jpg"):
        copies[name] = tmp_path / name
        shutil.copyfile(SAMPLES / name, copies[name])

    seen = upload(page, server.url, copies["C.jpg"])
    assert seen["status"] == "not_found"  # the manifest never changes the certificate's status
    text = c2pa_shown(page)
    assert "Valid" in text and "C2PA Signer" in text and "untrusted" in text
    assert "make_test_images/0.33.1" in text and "c2pa.created" in text and "algorithmicMedia" in text
    assert page.locator("[data-testid=c2pa-generative]").count() == 0  # algorithmicMedia is not a trained model

    upload(page, server.url, copies["CA.jpg"])
    text = c2pa_shown(page)
    assert "A.jpg" in page.locator("[data-testid=c2pa-ingredients]").inner_text() and "parentOf" in text
    assert "c2pa.color_adjustments" in text
    screenshot(page, shots, "c2pa")

    upload(page, server.url, copies["E-sig-CA.jpg"])
    text = c2pa_shown(page)
    assert "Invalid" in text and "claimSignature.mismatch" in text

    upload(page, server.url, copies["cloud.jpg"])
    text = c2pa_shown(page)
    assert "unavailable" in text and "cai-manifests.adobe.com" in text and "error" not in text.lower()

    upload(page, server.url, copies["no_manifest.jpg"])
    assert c2pa_shown(page).strip() == "no C2PA manifest"


def test_declared_generative_source_is_shown_beside_the_verdict(server, parts, browser, shots, home, monkeypatch, tmp_path):
    """A copy minted with --c2pa-out for generated content: verified, and its manifest's declaration up front."""
    from provenance.c2pa.certs import ENV_C2PA_KEY_PASSWORD, create_dev_certificate
    from provenance.c2pa.service import rendition_writer

    monkeypatch.setenv(ENV_C2PA_KEY_PASSWORD, "c2pa page test")
    create_dev_certificate(home, "c2pa page test")
    render = tmp_path / "render.png"
    scene(seed=17).save(render)
    out = tmp_path / "signed"
    certifier = Certifier(parts.chain, parts.store, parts.ledger, DetectorScanner(), renditions=rendition_writer(out, parts))
    [result] = certifier.certify([render], CertifyOptions(generator={"model": "test-diffusion-1"}))
    assert result.error is None, result.error

    page = browser.new_page(viewport={"width": 1000, "height": 900})
    seen = upload(page, server.url, out / render.name)
    assert seen["status"] == "verified"
    declared = page.locator("[data-testid=c2pa-generative]")
    assert declared.count() == 1 and "trainedAlgorithmicMedia" in declared.inner_text()
    # Beside the detector verdict: in the same block as the ensemble's bars.
    assert page.locator("[data-testid=detection] [data-testid=c2pa-generative]").count() == 1
    text = c2pa_shown(page)
    assert "Provenance development issuer" in text and "untrusted" in text and "c2pa.created" in text
    screenshot(page, shots, "c2pa-generative")


def test_a_reissued_certificate_shows_what_it_replaced(server, parts, certify, browser, tmp_path):
    from provenance.chain.node import DEV_ADDRESS
    from provenance.chain.session import admin_registry
    from provenance.chain_admin import chain_config
    from tests.pipeline.cli_helpers import run_cli

    photo = tmp_path / "again.png"
    scene(seed=19).save(photo)
    (first,) = certify(photo)
    admin = admin_registry(chain_config(parts.settings), parts.chain)
    admin.revoke(int(first.token_id, 16), "issued in error: wrong verdict")
    admin.approve_reissue(int(first.token_id, 16), DEV_ADDRESS, "the issuer certifies it again")
    reissued = run_cli("mint", "--reissue", "--no-detect", "--json", str(photo))
    assert reissued.returncode == 0, reissued.stderr

    page = browser.new_page(viewport={"width": 1000, "height": 900})
    seen = upload(page, server.url, photo)
    assert seen["status"] == "verified"
    history = page.locator("[data-testid=reissued-from]").inner_text()
    assert "issued in error: wrong verdict" in history and "the issuer certifies it again" in history


def test_face_boxes_are_drawn_over_the_picture(server, parts, browser, shots, tmp_path):
    """A face photo certified with the detectors: the page draws a box per face, inside the shown picture, with its score."""
    from tests.server.test_face_boxes import FACES

    if not FACES.is_file():
        pytest.skip("../shared/corpus is absent")
    photo = tmp_path / "two_people.jpg"
    shutil.copyfile(FACES, photo)
    [result] = Certifier(parts.chain, parts.store, parts.ledger, DetectorScanner()).certify([photo], CertifyOptions())
    assert result.error is None, result.error
    detection = scanned_detection(parts, result)
    assert detection["faces"] >= 2

    page = browser.new_page(viewport={"width": 1000, "height": 900})
    blocked: list[str] = []
    page.on("console", lambda msg: "Content Security Policy" in msg.text and blocked.append(msg.text))
    seen = upload(page, server.url, photo)
    assert seen["status"] == "verified"
    image = page.locator("[data-testid=received-image] img").bounding_box()
    boxes = page.locator("[data-testid=received-image] [data-testid=face-box]")
    assert boxes.count() == detection["faces"]
    for i, signed in enumerate(detection["face_boxes"]):
        drawn = boxes.nth(i).bounding_box()
        assert drawn["width"] > 5 and drawn["height"] > 5  # positioned and sized: the style survived the CSP
        assert image["x"] - 0.5 <= drawn["x"] and drawn["x"] + drawn["width"] <= image["x"] + image["width"] + 0.5
        assert image["y"] - 0.5 <= drawn["y"] and drawn["y"] + drawn["height"] <= image["y"] + image["height"] + 0.5
        # Where the certificate says, scaled to the shown size.
        x0, y0, x1, y1 = signed["box"]
        with Image.open(photo) as img:
            scale = image["width"] / img.width
        assert drawn["x"] - image["x"] == pytest.approx(x0 * scale, abs=2) and drawn["width"] == pytest.approx((x1 - x0) * scale, abs=2)
        assert boxes.nth(i).get_attribute("title") == f"face score {signed['score']:.2f}"
    assert blocked == []
    screenshot(page, shots, "faces")
