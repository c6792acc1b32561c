"""Mutated media through hash, mint, verify and detect: never a traceback, one line per refused file,
the other files of the batch unaffected (a sample of bench/bench_reliability.py's ~1,000 files)."""

from __future__ import annotations

import pytest

from .harness import Home, photos
from .mutate import FORMATS, Mutant, header, make_seeds, mutants, truncate, write_mutants

PER_FORMAT = 7
DETECTED = 14


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    work = tmp_path_factory.mktemp("mutants")
    seeds = make_seeds(work / "seeds")
    written = write_mutants(work / "mutants", mutants(seeds, PER_FORMAT, seed=40))
    control = photos(work / "control", 1, 12_000)[0]
    home = Home(work / "home")
    try:
        assert home.up().code == 0
        yield home, seeds, [p for p, _ in written], control
    finally:
        home.down()


def _entries(run) -> dict[str, dict]:
    doc = run.json()
    entries = doc["files"] if isinstance(doc, dict) else doc
    return {e["file"]: e for e in entries}


def _refusal(entry: dict) -> str | None:
    if "error" in entry:
        return entry["error"]
    if entry.get("status") == "error":
        return entry.get("summary") or "error"
    return None


def test_the_seeds_are_valid_media_of_every_format(batch):
    home, seeds, _, _ = batch
    files = [p for fmt in FORMATS for p in seeds[fmt]]
    run = home.cli("hash", "--json", *files)
    assert run.code == 0, run.stderr
    assert all("error" not in e for e in _entries(run).values())


def test_the_mutations_change_what_they_say(batch):
    import random

    _, seeds, _, _ = batch
    rng = random.Random(3)
    data = seeds["png"][0].read_bytes()
    detail, out = header("png", data, rng)
    assert out != data and len(out) == len(data) and "->" in detail
    detail, cut = truncate(data, rng)
    assert len(cut) < len(data) and str(len(cut)) in detail
    made = mutants(seeds, 3, seed=1)
    assert len(made) == 3 * len(FORMATS) and all(isinstance(m, Mutant) for m in made)
    assert len({m.data for m in made}) == len(made)


@pytest.mark.slow
def test_mutated_media_never_end_a_command_in_a_traceback(batch):
    home, _, files, control = batch
    outcomes = {}
    for command in (["hash", "--json"], ["mint", "--no-detect", "--json"], ["verify", "--json"], ["detect", "--json"]):
        name = command[0]
        if name == "detect":
            files = files[:DETECTED]  # the detectors take ~1 s a file here: a part of the batch
        run = home.cli(*command, *files, control, timeout=600)
        assert not run.traceback, f"{name}: {run.stderr[-3000:]}"
        assert run.code == 1, f"{name}: {run.brief()}"  # some mutants are refused, none ends the run
        assert run.rss_mb < 2048 and run.seconds < 60 * (len(files) + 1)
        entries = _entries(run)
        assert set(entries) == {str(p) for p in files} | {str(control)}
        assert _refusal(entries[str(control)]) is None, f"{name}: the control photo failed: {entries[str(control)]}"
        for path in files:
            refusal = _refusal(entries[str(path)])
            if refusal is not None:
                assert refusal.strip() and "\n" not in refusal and str(path) in refusal, (name, refusal)
        outcomes[name] = {p: _refusal(entries[str(p)]) is None for p in files}
        if name == "verify":
            assert {entries[str(p)]["status"] for p in files if outcomes[name][p]} == {"verified"}
    assert 0 < sum(outcomes["hash"].values()) < len(outcomes["hash"])
    assert outcomes["mint"] == outcomes["hash"] == outcomes["verify"]


def _without_segment_info(path):
    """The clip with its Segment Info element's WritingApp sized 0: Matroska demuxers then lose the Duration
    that follows it (as with a stream recorded live, which never had one); the frames are intact."""
    from .mutate import _ebml_fields

    data = bytearray(path.read_bytes())
    [(_, at, length, _)] = [f for f in _ebml_fields(bytes(data)) if f[0] == "vint" and f[-1] == "element 5741 size"]
    data[at : at + length] = (1 << (7 * length)).to_bytes(length, "big")
    path.write_bytes(bytes(data))
    return path


@pytest.mark.parametrize("codec, container, suffix", [("libx264", "matroska", ".mkv"), ("libvpx", "webm", ".webm")])
def test_a_clip_without_a_duration_header_is_read_by_the_detectors_as_by_hash(tmp_path, codec, container, suffix):
    """Found by bench/bench_reliability.py: `hash` and `verify` read such a clip (provenance.media counts
    its frames), but the detectors' own sampler took its frame count from the header, found none, and said
    "no decodable frames": `mint`, which runs the detectors, refused the file on every run. The detectors
    now score provenance.media's sample."""
    import torch

    from detect.analyze import Analyzer
    from detect.detectors import DetectorSet
    from detect.ensemble import EnsembleConfig
    from provenance.media import load_media
    from tests.pipeline.hostile_media import video

    clip = _without_segment_info(video(tmp_path / f"clip{suffix}", frames=5, size=(64, 48), codec=codec, fmt=container))
    media = load_media(clip)  # since issue 19 the one sampler, for hashing and the detectors alike
    assert media.frame_count == 5
    assert [f.index for f in media.sample] == [0, 1, 2, 3, 4]
    assert len({f.image.tobytes() for f in media.sample}) == 5
    bare = Analyzer(
        DetectorSet(
            image=[],
            face=[],
            unavailable=[],
            device=torch.device("cpu"),
            ensemble=EnsembleConfig(weights={}),
            find_faces=None,
            batch_sizes={},
        )
    )
    report = bare.analyze_file(clip)  # `provenance detect`'s path: no "no decodable frames"
    assert report.frames and set(report.frames) <= {0, 1, 2, 3, 4}
