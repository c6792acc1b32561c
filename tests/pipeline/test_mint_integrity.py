"""One run, one job per content; what is stored is what was hashed (issue 16)."""

from __future__ import annotations

import shutil

import pytest

from provenance.certify import Certifier, CertifyOptions
from provenance.scanning import NoScanner

from .cli_helpers import json_out, run_cli
from .conftest import make_photo


@pytest.fixture
def pair(photo, tmp_path):
    copy = tmp_path / "photo_copy.png"
    shutil.copyfile(photo, copy)
    return photo, copy


# ---- the same content twice in one run ---------------------------------------


def test_same_content_twice_is_one_certificate(certify, parts, pair):
    photo, copy = pair
    first, second = certify(photo, copy)
    assert first.error is None and second.error is None, (first.error, second.error)
    assert first.token_id and second.token_id == first.token_id and second.tx_hash == first.tx_hash
    assert first.duplicate_of is None and second.duplicate_of == str(photo)
    assert second.to_dict()["duplicate_of"] == str(photo) and "duplicate_of" not in first.to_dict()
    assert len(parts.ledger.certificates()) == 1


def test_same_path_twice_is_one_certificate(certify, photo):
    first, second = certify(photo, photo)
    assert first.error is None and second.error is None
    assert second.token_id == first.token_id and second.duplicate_of == str(photo)


def test_duplicates_do_not_sink_a_batch_and_reruns_stay_green(certify, parts, pair, tmp_path):
    photo, copy = pair
    other = make_photo(tmp_path / "other.png", seed=31)
    third = make_photo(tmp_path / "third.png", seed=32)
    results = certify(photo, other, copy, third, batch=10)
    assert [r.error for r in results] == [None] * 4
    assert results[2].duplicate_of == str(photo) and results[2].token_id == results[0].token_id
    assert len({r.token_id for r in results}) == 3
    again = certify(photo, other, copy, third, batch=10)
    assert [r.error for r in again] == [None] * 4
    assert all(r.already for r in again) and again[2].duplicate_of == str(photo)


def test_a_duplicate_of_a_failed_file_reports_the_same_error(certify, tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    copy = tmp_path / "bad_copy.png"
    shutil.copyfile(bad, copy)
    first, second = certify(bad, copy)
    assert first.error
    assert second.error and second.file == str(copy)


@pytest.mark.slow
def test_mint_command_reports_duplicates(parts, pair, tmp_path):
    photo, copy = pair
    other = make_photo(tmp_path / "other.png", seed=33)
    for _ in range(2):  # the rerun too
        proc = run_cli("mint", "--no-detect", "--json", "--batch", "3", photo, copy, other)
        assert "Traceback" not in proc.stderr + proc.stdout
        assert proc.returncode == 0, proc.stderr
        results = json_out(proc)
        assert [r["file"] for r in results] == [str(photo), str(copy), str(other)]
        assert results[1]["duplicate_of"] == str(photo) and results[1]["token_id"] == results[0]["token_id"]
    human = run_cli("mint", "--no-detect", photo, copy)
    assert human.returncode == 0 and f"same content as {photo}" in human.stdout


# ---- stored bytes are the hashed bytes --------------------------------------------


class _SwappingStore:
    """A store whose add_file finds the file replaced just before it reads it."""

    def __init__(self, inner, swap):
        self._inner, self._swap = inner, swap

    def add_file(self, path, **options):
        self._swap(path)
        return self._inner.add_file(path, **options)

    def __getattr__(self, name):
        return getattr(self._inner, name)


class _SwappingScanner(NoScanner):
    """The file is replaced after it was hashed, while it is being scanned."""

    def __init__(self, swap):
        self._swap = swap

    def scan(self, media):
        self._swap(media.path)  # the detectors score the frames already decoded; the file on disk is what changes
        return super().scan(media)


def _swap_with(source):
    def swap(path):
        if path.name.startswith("victim"):
            shutil.copyfile(source, path)

    return swap


@pytest.mark.parametrize("where", ["while storing", "before storing"])
def test_a_file_replaced_after_hashing_is_not_certified(parts, tmp_path, where):
    victim = make_photo(tmp_path / "victim.png", seed=41)
    innocent = make_photo(tmp_path / "innocent.png", seed=42)
    swap = _swap_with(make_photo(tmp_path / "swapped_in.png", seed=43))
    store = _SwappingStore(parts.store, swap) if where == "while storing" else parts.store
    scanner = _SwappingScanner(swap) if where == "before storing" else NoScanner()
    certifier = Certifier(parts.chain, store, parts.ledger, scanner)
    bad, good = certifier.certify([victim, innocent], CertifyOptions(batch=5))
    assert bad.error and "changed since it was hashed" in bad.error and "\n" not in bad.error
    assert bad.token_id is None
    assert good.error is None and good.token_id
    assert [c.content_sha256 for c in parts.ledger.certificates()] == [good.content_sha256]


def test_hash_command_cid_names_the_hashed_bytes(tmp_path, monkeypatch):
    import provenance.media as media_module
    from cli.hash_cmd import _hash_one
    from provenance.content import ContentChanged

    path = make_photo(tmp_path / "victim.png", seed=51)
    record = _hash_one(path)
    from provenance.ipfs.hashing import cid_of_file

    assert record["cid"] == cid_of_file(path)
    real = media_module.load_media

    def load_then_swap(p):
        loaded = real(p)
        shutil.copyfile(make_photo(tmp_path / "other.png", seed=52), p)
        return loaded

    monkeypatch.setattr(media_module, "load_media", load_then_swap)
    with pytest.raises(ContentChanged, match="changed since it was hashed"):
        _hash_one(path)


# ---- two processes creating the job for one content at the same moment ------


def test_a_job_another_process_created_first_is_picked_up_not_an_integrity_error(parts, photo):
    """Process A looked (no job), process B created it, A creates it too: A gets B's job."""
    chain_id, contract = parts.chain.deployment.chain_id, parts.chain.deployment.address
    sha = "ab" * 32
    theirs = parts.ledger.create_job(chain_id, contract, sha, str(photo), {"name": None})
    ours = parts.ledger.create_job(chain_id, contract, sha, str(photo), {"name": None})
    assert ours.id == theirs.id and ours.content_sha256 == sha
