"""Write direction on a real local chain: mint with a C2PA copy, read the copy, verify it, edit it, verify again."""

from __future__ import annotations

import os
import stat
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from provenance.c2pa import read_c2pa
from provenance.c2pa.service import rendition_writer
from provenance.certify import Certifier, CertifyOptions
from provenance.scanning import NoScanner
from provenance.verify import Status
from provenance.verify.verifier import Verifier

GENERATOR = {"model": "test-diffusion-1", "prompt": "a hill", "seed": 7}


def mint_with_copy(parts, paths, out_dir: Path, generator=None):
    writer = rendition_writer(out_dir, parts)
    certifier = Certifier(parts.chain, parts.store, parts.ledger, NoScanner(), renditions=writer)
    results = certifier.certify(list(paths), CertifyOptions(generator=generator))
    return results, writer


def test_dev_certificate_files_are_private(dev_cert, home):
    assert stat.S_IMODE(os.stat(dev_cert.folder).st_mode) == 0o700
    for key in (dev_cert.key, dev_cert.ca_key):
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
        assert b"ENCRYPTED PRIVATE KEY" in key.read_bytes()
    assert dev_cert.chain.read_bytes().count(b"BEGIN CERTIFICATE") == 2


def test_generated_image_copy_verifies_and_declares_generation(parts, photo, dev_cert, tmp_path):
    out = tmp_path / "c2pa"
    [result], writer = mint_with_copy(parts, [photo], out, generator=GENERATOR)
    assert result.error is None, result.error
    copy = out / photo.name
    assert writer.written[result.content_sha256] == copy and copy.read_bytes() != photo.read_bytes()

    report = read_c2pa(copy)
    # The reference implementation finds nothing wrong but the development signer being on no trust list.
    assert report.validation_state == "Valid" and report.failures == ["signingCredential.untrusted"]
    assert report.generative and report.digital_source_types == ["http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"]
    assert report.active.actions[0].action == "c2pa.created"
    assert report.active.signer.common_name == "Provenance development issuer" and not report.active.signer.trusted
    deployment = parts.chain.deployment
    assert report.provenance["token_id"] == result.token_id and report.provenance["chain_id"] == deployment.chain_id
    assert report.provenance["registry"].lower() == deployment.address.lower()
    assert "org.provenance.perceptual" in report.active.assertions

    verifier = Verifier(parts)
    v = verifier.verify(copy)
    assert v.status is Status.VERIFIED, v.to_dict()
    assert v.token_id == result.token_id and v.candidates[0].found_by == "c2pa_manifest"
    assert v.match["kind"] == "rendition" and v.match["sha256"] == v.content_sha256
    section = v.to_dict()["c2pa"]
    assert section["present"] and section["generative"] and section["provenance"]["token_id"] == result.token_id

    original = verifier.verify(photo)
    assert original.status is Status.VERIFIED and original.match == {"kind": "exact"}
    assert original.to_dict()["c2pa"]["state"] == "absent"


def test_trust_anchor_makes_the_signer_trusted(parts, photo, dev_cert, tmp_path, home):
    out = tmp_path / "c2pa"
    mint_with_copy(parts, [photo], out)
    copy = out / photo.name
    from provenance.c2pa import ReadOptions
    from provenance.config import load_settings

    (home / "config.toml").write_text(f'[c2pa]\ntrust_anchors = "{dev_cert.ca_cert}"\n')
    trusted = read_c2pa(copy, ReadOptions.from_settings(load_settings()))
    assert trusted.validation_state == "Trusted" and trusted.active.signer.trusted and trusted.failures == []
    # Without --generator the copy declares a capture, not a generated picture.
    assert not trusted.generative
    assert trusted.digital_source_types == ["http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"]


def _png_chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    pos, out = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def _png(chunks: list[tuple[bytes, bytes]]) -> bytes:
    body = b"".join(struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d)) for t, d in chunks)
    return b"\x89PNG\r\n\x1a\n" + body


def edited_keeping_manifest(copy: Path, dest: Path) -> Path:
    """The copy with some pixels painted over, re-encoded, its C2PA chunk (caBX) kept in place."""
    with Image.open(copy) as img:
        pixels = img.convert("RGB")
    for x in range(40, 90):
        for y in range(40, 60):
            pixels.putpixel((x, y), (255, 0, 0))
    pixels.save(dest)
    manifest = [c for c in _png_chunks(copy.read_bytes()) if c[0] == b"caBX"]
    assert manifest, "the copy carries its manifest in a caBX chunk"
    chunks = _png_chunks(dest.read_bytes())
    dest.write_bytes(_png([chunks[0], *manifest, *chunks[1:]]))
    return dest


def test_edited_copy_is_modified_and_its_manifest_invalid(parts, photo, dev_cert, tmp_path):
    out = tmp_path / "c2pa"
    [result], _ = mint_with_copy(parts, [photo], out, generator=GENERATOR)
    edited = edited_keeping_manifest(out / photo.name, tmp_path / "edited.png")

    v = Verifier(parts).verify(edited)
    assert v.status is Status.MODIFIED, v.to_dict()
    assert v.token_id == result.token_id and v.candidates[0].found_by == "c2pa_manifest"
    section = v.to_dict()["c2pa"]
    assert section["present"] and section["validation_state"] == "Invalid"
    assert "assertion.dataHash.mismatch" in [c["code"] for c in section["validation_codes"] if c["kind"] == "failure"]


def test_manifest_naming_another_certificate_proves_nothing(parts, photo, dev_cert, tmp_path):
    """A copy's manifest only says where to look: a file the certificate does not cover is not verified through it."""
    from scripts.make_samples import scene

    out = tmp_path / "c2pa"
    mint_with_copy(parts, [photo], out)
    # Another picture signed into a copy naming the first certificate (anyone holding a C2PA key can write one).
    other = tmp_path / "other" / photo.name
    other.parent.mkdir()
    scene(seed=99).save(other)
    writer = rendition_writer(tmp_path / "forged", parts)
    from provenance.media import load_media

    media = load_media(other)
    forged_media = type(media)(**{**media.__dict__, "sha256": load_media(photo).sha256})
    writer(forged_media, {"phash": "0" * 16, "pdq": "0" * 64}, None, "bafy")
    v = Verifier(parts).verify(tmp_path / "forged" / photo.name)
    assert v.status is not Status.VERIFIED and v.status is not Status.MODIFIED, v.to_dict()


def test_video_copy_verifies(parts, dev_cert, tmp_path):
    from tests.pipeline.hostile_media import video

    clip = video(tmp_path / "clip.mp4", frames=8, size=(96, 64))
    out = tmp_path / "c2pa"
    [result], _ = mint_with_copy(parts, [clip], out)
    assert result.error is None, result.error
    copy = out / "clip.mp4"
    report = read_c2pa(copy)
    assert report.validation_state == "Valid" and report.failures == ["signingCredential.untrusted"]
    v = Verifier(parts).verify(copy)
    assert v.status is Status.VERIFIED and v.match["kind"] == "rendition", v.to_dict()


def test_unsupported_container_fails_that_file_only(parts, dev_cert, tmp_path):
    from tests.pipeline.hostile_media import video

    clip = video(tmp_path / "clip.webm", frames=6, codec="libvpx", fmt="webm")
    [result], _ = mint_with_copy(parts, [clip], tmp_path / "c2pa")
    assert result.error and "cannot be written into video/webm" in result.error


def test_without_a_certificate_the_writer_says_what_to_run(parts, tmp_path):
    from provenance.errors import ProvenanceError

    with pytest.raises(ProvenanceError, match="provenance keys cert"):
        rendition_writer(tmp_path / "c2pa", parts)


def test_wrong_key_password_is_one_clear_error(parts, dev_cert, tmp_path, monkeypatch):
    from provenance.c2pa.certs import ENV_C2PA_KEY_PASSWORD, C2paKeyError

    monkeypatch.setenv(ENV_C2PA_KEY_PASSWORD, "Zq-not-the-password")
    with pytest.raises(C2paKeyError, match="password") as caught:
        rendition_writer(tmp_path / "c2pa", parts)
    assert "Zq-not" not in str(caught.value)


def test_two_files_named_alike_do_not_overwrite_each_others_copy(parts, dev_cert, tmp_path):
    from scripts.make_samples import scene

    first, second = tmp_path / "a" / "pic.png", tmp_path / "b" / "pic.png"
    for path, seed in ((first, 3), (second, 4)):
        path.parent.mkdir()
        scene(seed=seed).save(path)
    results, writer = mint_with_copy(parts, [first, second], tmp_path / "c2pa")
    assert [r.error is None for r in results].count(True) == 1
    failed = next(r for r in results if r.error)
    assert "already writes" in failed.error
    kept = next(r for r in results if not r.error)
    v = Verifier(parts).verify(writer.written[kept.content_sha256])
    assert v.status is Status.VERIFIED and v.token_id == kept.token_id


def test_own_certificate_from_config(parts, photo, dev_cert, tmp_path, home, monkeypatch):
    """Production users point [c2pa] sign_cert / sign_key at their own chain and key (here an unencrypted key)."""
    from cryptography.hazmat.primitives import serialization

    from provenance.c2pa.certs import ENV_C2PA_KEY_PASSWORD
    from provenance.config import load_settings
    from provenance.context import open_parts

    from .conftest import PASSWORD

    own = tmp_path / "own"
    own.mkdir()
    key = serialization.load_pem_private_key(dev_cert.key.read_bytes(), PASSWORD.encode())
    (own / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    (own / "chain.pem").write_bytes(dev_cert.chain.read_bytes())
    monkeypatch.delenv(ENV_C2PA_KEY_PASSWORD)
    (home / "config.toml").write_text(f'[c2pa]\nsign_cert = "{own / "chain.pem"}"\nsign_key = "{own / "key.pem"}"\n')
    configured = open_parts(load_settings(), signer=True)
    [result], writer = mint_with_copy(configured, [photo], tmp_path / "c2pa")
    assert result.error is None and read_c2pa(writer.written[result.content_sha256]).failures == ["signingCredential.untrusted"]

    (home / "config.toml").write_text(f'[c2pa]\nsign_cert = "{own / "chain.pem"}"\nsign_key = "{own / "missing.pem"}"\n')
    from provenance.errors import ProvenanceError

    with pytest.raises(ProvenanceError, match="missing.pem"):
        rendition_writer(tmp_path / "c2pa2", open_parts(load_settings(), signer=True))


def test_copy_still_verifies_after_reattestation(parts, photo, dev_cert, tmp_path):
    """A re-attestation writes new signed metadata (new verdict, real detectors); the rendition it covers stays covered."""
    from provenance.reattest import Reattester
    from provenance.scanning import DetectorScanner

    out = tmp_path / "c2pa"
    [result], writer = mint_with_copy(parts, [photo], out)  # unscanned
    (again,) = Reattester(parts.chain, parts.store, parts.ledger, DetectorScanner()).reattest_files([photo])
    assert again.status == "reattested", again.error
    v = Verifier(parts).verify(writer.written[result.content_sha256])
    assert v.status is Status.VERIFIED and v.match["kind"] == "rendition", v.to_dict()
    assert v.certificate["history"][0]["label"] == "unscanned"
