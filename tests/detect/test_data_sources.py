"""`python -m detect.train data`: the pinned-git data set builder (detect/train/data.py, sources.json).

Every test reads a real git repository made here: a few small PNG / JPEG
images in generator and class folders, a non-image file, and a second commit
that the manifest does not pin. No network: clones go through file:// URLs.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from detect.train.data import MANIFEST, SPLITS, DataError, build, load_manifest, mirror_git_dir, read_index, split_by_hash

REPO_ROOT = Path(__file__).resolve().parents[2]
REPO = "acme/pics"
GENERATORS = [f"gen{c}" for c in "ABCDEFGH"]
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_AUTHOR_NAME": "test",
    "GIT_AUTHOR_EMAIL": "test@example.invalid",
    "GIT_COMMITTER_NAME": "test",
    "GIT_COMMITTER_EMAIL": "test@example.invalid",
}
OFF_LIMITS = (
    "grip-unina/",
    "peterwang512/cnndetection",
    "neuralchen/simswap",
    "nvlabs/",
    "ondyari/faceforensics",
    "mudouble/faceforensics-detection_website",
    "olivaoriol/aigameapp",
    "timesler/facenet-pytorch",
)


def image_bytes(seed: int, suffix: str, side: int = 16) -> bytes:
    """A small noise image encoded as PNG or JPEG."""
    pixels = np.random.default_rng(seed).integers(0, 256, size=(side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "JPEG" if suffix in (".jpg", ".jpeg") else "PNG", quality=90)
    return buffer.getvalue()


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, env={**os.environ, **GIT_ENV}, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def make_repo(path: Path, files: dict[str, bytes], later: dict[str, bytes] | None = None) -> str:
    """A work tree at `path` with `files` in one commit (returned), then `later` in a second commit on top."""
    path.mkdir(parents=True)
    git(path, "init", "--quiet")
    git(path, "config", "uploadpack.allowFilter", "true")  # so a --filter=blob:none clone really is blobless
    for rel, data in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_bytes(data)
    git(path, "add", "--all")
    git(path, "commit", "--quiet", "-m", "images")
    pinned = git(path, "rev-parse", "HEAD")
    if later:
        for rel, data in later.items():
            (path / rel).parent.mkdir(parents=True, exist_ok=True)
            (path / rel).write_bytes(data)
        git(path, "add", "--all")
        git(path, "commit", "--quiet", "-m", "later")
    return pinned


def fixture_files() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for n, gen in enumerate(GENERATORS):
        files[f"imgs/{gen}/a{n}.png"] = image_bytes(10 * n, ".png")
        files[f"imgs/{gen}/b{n}.jpg"] = image_bytes(10 * n + 1, ".jpg")
    files["imgs/genA/notes.txt"] = b"not an image\n"
    files["imgs/README.md"] = b"# images\n"
    files["real/train/r0.png"] = image_bytes(100, ".png")
    files["real/train/r1.jpg"] = image_bytes(101, ".jpg")
    files["real/test/r2.png"] = image_bytes(102, ".png")
    files["real/test/r3.JPG"] = image_bytes(103, ".jpg")
    files["real/test/r4.jpeg"] = image_bytes(104, ".jpeg")  # not in the photos source's suffixes
    files["other/o.png"] = image_bytes(105, ".png")  # in no source's include
    return files


# Changed or added after the pinned commit: must never show up in a build.
LATER = {"imgs/genA/a0.png": image_bytes(999, ".png"), "imgs/genA/late.png": image_bytes(998, ".png")}


def fixture_manifest(commit: str) -> dict:
    common = {"repo": REPO, "commit": commit, "task": "image", "licence": "test licence"}
    return {
        "about": "test sources",
        "sources": [
            {
                **common,
                "name": "gens",
                "include": ["imgs/"],
                "label": "fake",
                "family": "diffusion",
                "generator": {"from_path": "imgs/([^/]+)/"},
                "group": "generator",
                "content": "mixed",
                "count": 16,
                "split": {"by_group": {"train": 0.5, "calib": 0.25, "dev": 0.25}},
            },
            {
                **common,
                "name": "photos",
                "include": ["real/train/", "real/test/"],
                "suffixes": [".png", ".jpg"],
                "label": "real",
                "family": "photo",
                "generator": "",
                "group": {"from_path": "real/(train|test)/"},
                "content": "scene",
                "count": 4,
                "split": {"by_group_name": {"train": "train", "test": "dev"}},
            },
            {
                **common,
                "name": "both",
                "include": ["imgs/genA/", "real/train/"],
                "label": {"from_path": "^real/", "match": "real", "else": "fake"},
                "family": "mixed",
                "generator": {"from_path": "^(?:imgs|real)/([^/]+)/"},
                "group": "source",
                "content": "face",
                "task": "face",
                "count": 4,
                "split": "calib",
            },
            {
                **common,
                "name": "half",
                "include": ["imgs/"],
                "label": "fake",
                "family": "diffusion",
                "generator": "one",
                "group": "source",
                "content": "mixed",
                "count": 16,
                "limit": 8,
                "split": "train",
            },
        ],
    }


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The origin repository at BASE/acme/pics, mirrors of it (work tree and bare) and a manifest file."""
    top = tmp_path_factory.mktemp("data-sources")
    files = fixture_files()
    base = top / "base"
    commit = make_repo(base / REPO, files, LATER)
    tree_mirror = top / "mirror-tree"
    git(top, "clone", "--quiet", str(base / REPO), str(tree_mirror / "acme+pics" / "repo"))
    bare_mirror = top / "mirror-bare"
    git(top, "clone", "--quiet", "--bare", str(base / REPO), str(bare_mirror / "acme+pics" / "repo"))
    manifest = top / "sources.json"
    manifest.write_text(json.dumps(fixture_manifest(commit)), encoding="utf-8")
    return {"top": top, "files": files, "commit": commit, "base": base, "tree": tree_mirror, "bare": bare_mirror, "manifest": manifest}


def run_data(*args: str | Path) -> subprocess.CompletedProcess:
    env = {**os.environ, **GIT_ENV, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "detect.train", "data", *map(str, args)],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def index_rows(out: Path) -> list[dict[str, str]]:
    with (out / "index.csv").open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def expected_paths(files: dict[str, bytes]) -> set[str]:
    gens = {f"gens/{p}" for p in files if p.startswith("imgs/") and p.endswith((".png", ".jpg"))}
    photos = {f"photos/{p}" for p in files if p.startswith("real/") and p.lower().endswith((".png", ".jpg"))}
    both = {f"both/{p}" for p in files if p.startswith(("imgs/genA/", "real/train/")) and p.endswith((".png", ".jpg"))}
    return gens | photos | both


def check_dataset(out: Path, world: dict) -> list[dict[str, str]]:
    """Every row's attributes follow the manifest, and every file holds the pinned commit's bytes."""
    files = world["files"]
    rows = index_rows(out)
    assert [r["path"] for r in rows if r["path"].startswith("half/")]  # the limited source kept some files
    paths = {r["path"] for r in rows if not r["path"].startswith("half/")}
    assert paths == expected_paths(files)
    assert len(rows) == len({r["path"] for r in rows})
    for row in rows:
        source, rel = row["path"].split("/", 1)
        data = (out / row["path"]).read_bytes()
        assert data == files[rel], row["path"]  # the pinned commit's bytes, not the later commit's
        assert row["sha256"] == hashlib.sha256(data).hexdigest()
        assert row["source"] == source and row["licence"] == "test licence"
        assert row["split"] in SPLITS
        if source == "gens":
            gen = rel.split("/")[1]
            assert (row["label"], row["family"], row["generator"], row["group"]) == ("fake", "diffusion", gen, gen)
            assert (row["content"], row["task"]) == ("mixed", "image")
        elif source == "photos":
            group = rel.split("/")[1]
            assert (row["label"], row["family"], row["generator"], row["group"]) == ("real", "photo", "real", group)
            assert row["split"] == {"train": "train", "test": "dev"}[group]
        elif source == "both":
            assert row["label"] == ("real" if rel.startswith("real/") else "fake")
            assert row["generator"] == rel.split("/")[1]
            assert (row["group"], row["split"], row["content"], row["task"]) == ("both", "calib", "face", "face")
        else:
            assert (row["generator"], row["split"], row["group"]) == ("one", "train", "half")
    assert not any("late.png" in r["path"] or r["path"].endswith((".txt", ".md")) for r in rows)
    assert not any(r["path"].startswith(("gens/other", "photos/other")) for r in rows)
    return rows


# ------------------------------------------------------------------ building


@pytest.mark.parametrize("layout", ["tree", "bare"])
def test_builds_from_a_local_mirror(world, tmp_path, layout):
    out = tmp_path / "ds"
    result = run_data(out, "--mirror", world[layout], "--manifest", world["manifest"])
    assert result.returncode == 0, result.stderr
    rows = check_dataset(out, world)
    assert f"wrote {len(rows)} files" in result.stdout
    assert [item.row() for item in read_index(out)] == rows


def test_mirror_git_dir_finds_both_layouts(world):
    assert mirror_git_dir(world["tree"], REPO) == world["tree"] / "acme+pics" / "repo" / ".git"
    assert mirror_git_dir(world["bare"], REPO) == world["bare"] / "acme+pics" / "repo"
    with pytest.raises(DataError, match="no mirror"):
        mirror_git_dir(world["top"], REPO)


def test_clones_from_a_git_base_url_without_network(world, tmp_path):
    out, cache = tmp_path / "ds", tmp_path / "cache"
    base = world["base"].as_uri()
    assert base.startswith("file:///")
    result = run_data(out, "--git-base", base, "--cache", cache, "--manifest", world["manifest"])
    assert result.returncode == 0, result.stderr
    check_dataset(out, world)
    clone = cache / "acme+pics.git"
    assert (clone / "objects").is_dir()
    # The cached clone is reused: a second build from the same cache gives the same index.
    again = run_data(tmp_path / "ds2", "--git-base", base, "--cache", cache, "--manifest", world["manifest"])
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "ds2" / "index.csv").read_bytes() == (out / "index.csv").read_bytes()


def test_default_clone_cache_is_inside_out_and_only_selects_sources(world, tmp_path):
    out = tmp_path / "ds"
    result = run_data(out, "--git-base", world["base"].as_uri(), "--manifest", world["manifest"], "--only", "photos")
    assert result.returncode == 0, result.stderr
    assert (out / ".git-cache" / "acme+pics.git" / "objects").is_dir()
    rows = index_rows(out)
    assert {r["source"] for r in rows} == {"photos"}
    assert len(rows) == 4
    # Building another source into the same set adds it: the rows already there are kept as they were.
    more = run_data(out, "--git-base", world["base"].as_uri(), "--manifest", world["manifest"], "--only", "gens")
    assert more.returncode == 0, more.stderr
    merged = index_rows(out)
    assert [r for r in merged if r["source"] == "photos"] == rows
    assert {r["source"] for r in merged} == {"photos", "gens"}
    # Rebuilding a source already listed replaces its rows instead of listing them twice.
    again = run_data(out, "--git-base", world["base"].as_uri(), "--manifest", world["manifest"], "--only", "photos")
    assert again.returncode == 0, again.stderr
    assert sorted(map(str, index_rows(out))) == sorted(map(str, merged))


def test_splits_never_cut_through_a_group_and_are_deterministic(world, tmp_path):
    sources = load_manifest(world["manifest"])
    git_dir = mirror_git_dir(world["bare"], REPO)
    first = build(tmp_path / "one", sources, lambda source: git_dir)
    second = build(tmp_path / "two", sources, lambda source: git_dir)
    assert first == second
    assert (tmp_path / "one" / "index.csv").read_bytes() == (tmp_path / "two" / "index.csv").read_bytes()
    splits_of: dict[tuple[str, str], set[str]] = {}
    for item in first:
        splits_of.setdefault((item.source, item.group), set()).add(item.split)
    assert all(len(splits) == 1 for splits in splits_of.values()), splits_of
    gens = {group: splits.pop() for (source, group), splits in splits_of.items() if source == "gens"}
    assert set(gens) == set(GENERATORS)
    assert len(set(gens.values())) >= 2  # the hash does spread generators over splits
    shares = {"train": 0.5, "calib": 0.25, "dev": 0.25}
    assert gens == {gen: split_by_hash(f"gens:{gen}", shares) for gen in GENERATORS}


def test_split_by_hash_follows_the_shares():
    shares = {"train": 0.6, "calib": 0.15, "dev": 0.25}
    picks = [split_by_hash(f"s:g{n}", shares) for n in range(4000)]
    assert picks == [split_by_hash(f"s:g{n}", shares) for n in range(4000)]
    for name, share in shares.items():
        assert abs(picks.count(name) / len(picks) - share) < 0.03
    assert {split_by_hash(f"s:g{n}", {"dev": 1.0}) for n in range(50)} == {"dev"}


def test_limit_keeps_a_fixed_hash_chosen_share(world, tmp_path):
    sources = [s for s in load_manifest(world["manifest"]) if s.name == "half"]
    git_dir = mirror_git_dir(world["bare"], REPO)
    kept = [item.path for item in build(tmp_path / "a", sources, lambda source: git_dir)]
    assert kept == [item.path for item in build(tmp_path / "b", sources, lambda source: git_dir)]
    assert 0 < len(kept) < 16


def test_a_rerun_is_idempotent_and_repairs_damaged_files(world, tmp_path):
    out = tmp_path / "ds"
    args = (out, "--mirror", world["bare"], "--manifest", world["manifest"])
    assert run_data(*args).returncode == 0
    index = (out / "index.csv").read_bytes()
    stamps = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file() and p.name != "index.csv"}
    result = run_data(*args)
    assert result.returncode == 0, result.stderr
    assert (out / "index.csv").read_bytes() == index
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps  # nothing rewritten
    assert {p for p in out.rglob("*") if p.is_file() and p.name != "index.csv"} == set(stamps)

    # A truncated file and a same-size file with other bytes are both rewritten from git.
    rows = {r["path"]: r for r in index_rows(out)}
    truncated, swapped = out / "gens/imgs/genB/a1.png", out / "photos/real/test/r2.png"
    truncated.write_bytes(truncated.read_bytes()[:10])
    swapped.write_bytes(bytes(255 - b for b in swapped.read_bytes()))
    result = run_data(*args)
    assert result.returncode == 0, result.stderr
    assert (out / "index.csv").read_bytes() == index
    for path in (truncated, swapped):
        rel = path.relative_to(out).as_posix()
        assert hashlib.sha256(path.read_bytes()).hexdigest() == rows[rel]["sha256"], rel


# ------------------------------------------------------------------ errors


def _manifest_with(world: dict, tmp_path: Path, change) -> Path:
    raw = fixture_manifest(world["commit"])
    change(raw["sources"][0])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw), encoding="utf-8")
    return path


def _bad_json(world, tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"sources": [', encoding="utf-8")
    return ["--mirror", world["bare"], "--manifest", path], "malformed"


def _missing_commit_key(world, tmp_path):
    return ["--mirror", world["bare"], "--manifest", _manifest_with(world, tmp_path, lambda s: s.pop("commit"))], "commit"


def _label_without_else(world, tmp_path):
    def change(source):
        source["label"] = {"from_path": "genA", "match": "fake"}

    return ["--mirror", world["bare"], "--manifest", _manifest_with(world, tmp_path, change)], "gens"


def _bad_regex(world, tmp_path):
    def change(source):
        source["generator"] = {"from_path": "imgs/([^/]+"}

    return ["--mirror", world["bare"], "--manifest", _manifest_with(world, tmp_path, change)], "gens"


def _unknown_only(world, tmp_path):
    return ["--mirror", world["bare"], "--manifest", world["manifest"], "--only", "photos", "nosuch"], "no such source: nosuch"


def _missing_mirror(world, tmp_path):
    return ["--mirror", tmp_path / "nowhere", "--manifest", world["manifest"]], "no mirror"


def _absent_commit_in_mirror(world, tmp_path):
    manifest = _manifest_with(world, tmp_path, lambda s: s.update(commit="0123456789abcdef0123456789abcdef01234567"))
    return ["--mirror", world["bare"], "--manifest", manifest, "--only", "gens"], "0123456789ab"


def _absent_commit_in_clone(world, tmp_path):
    manifest = _manifest_with(world, tmp_path, lambda s: s.update(commit="0123456789abcdef0123456789abcdef01234567"))
    args = ["--git-base", world["base"].as_uri(), "--cache", tmp_path / "cache", "--manifest", manifest, "--only", "gens"]
    return args, "0123456789ab"


def _absent_repository(world, tmp_path):
    manifest = _manifest_with(world, tmp_path, lambda s: s.update(repo="acme/absent"))
    args = ["--git-base", world["base"].as_uri(), "--cache", tmp_path / "cache", "--manifest", manifest, "--only", "gens"]
    return args, "acme/absent"


def _unknown_split(world, tmp_path):
    return ["--mirror", world["bare"], "--manifest", _manifest_with(world, tmp_path, lambda s: s.update(split="test"))], "split"


@pytest.mark.parametrize(
    "case",
    [
        _bad_json,
        _missing_commit_key,
        _label_without_else,
        _bad_regex,
        _unknown_only,
        _missing_mirror,
        _absent_commit_in_mirror,
        _absent_commit_in_clone,
        _absent_repository,
        _unknown_split,
    ],
    ids=lambda case: case.__name__.strip("_"),
)
def test_errors_are_one_line_without_a_traceback(world, tmp_path, case):
    args, needle = case(world, tmp_path)
    result = run_data(tmp_path / "ds", *args)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert needle in lines[0]
    assert not (tmp_path / "ds" / "index.csv").exists()


# ------------------------------------------------------------------ the committed manifest


def test_the_committed_manifest_is_complete_and_avoids_off_limits_repositories():
    sources = load_manifest(MANIFEST)
    assert len(sources) >= 10
    raw = json.loads(MANIFEST.read_text(encoding="utf-8"))
    assert raw["about"]
    for source in sources:
        entry = source.raw
        name = entry["name"]
        for key in ("repo", "commit", "licence", "count", "label", "split", "include"):
            assert entry.get(key) not in (None, "", []), (name, key)
        assert re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9_.-]+", entry["repo"]), name
        assert re.fullmatch(r"[0-9a-f]{40}", entry["commit"]), f"{name}: pin the full commit sha, not {entry['commit']!r}"
        assert isinstance(entry["count"], int) and entry["count"] > 0, name
        assert "limit" not in entry or 0 < entry["limit"] <= entry["count"], name
        assert entry.get("task", "image") in ("image", "face", "video"), name
        assert entry.get("group", "source") in ("source", "generator") or "from_path" in entry["group"], name
        label = entry["label"]
        if isinstance(label, str):
            assert label in ("real", "fake"), name
        else:
            assert {label["match"], label["else"]} == {"real", "fake"}, name
        split = entry["split"]
        if isinstance(split, str):
            assert split in SPLITS, name
        elif "by_group" in split:
            assert set(split["by_group"]) <= set(SPLITS) and abs(sum(split["by_group"].values()) - 1) < 1e-9, name
        else:
            for chosen in split["by_group_name"].values():
                if isinstance(chosen, dict):  # shares by file within the group: never into 'train'
                    assert set(chosen) <= set(SPLITS) - {"train"} and abs(sum(chosen.values()) - 1) < 1e-9, name
                else:
                    assert chosen in SPLITS, name
        for key in ("label", "family", "generator", "group"):
            spec = entry.get(key)
            if isinstance(spec, dict):
                re.compile(spec["from_path"])
        repo = entry["repo"].lower()
        assert not any(repo == bad or (bad.endswith("/") and repo.startswith(bad)) for bad in OFF_LIMITS), name
    assert not any(bad.rstrip("/") in MANIFEST.read_text(encoding="utf-8").lower() for bad in OFF_LIMITS)


def test_a_group_can_be_shared_by_file_between_calib_and_dev_but_never_train():
    """FaceForensics++ test crops carry no video id: the group is split by file, and only outside 'train'."""
    from detect.train.data import Source

    shared = Source({"name": "s", "split": {"by_group_name": {"train": "train", "test": {"calib": 0.5, "dev": 0.5}}}})
    picks = [shared.split("test", f"crop_{n}.jpg") for n in range(400)]
    assert set(picks) == {"calib", "dev"} and 150 < picks.count("calib") < 250
    assert picks == [shared.split("test", f"crop_{n}.jpg") for n in range(400)]  # stable
    assert shared.split("train", "crop_1.jpg") == "train"
    leaky = Source({"name": "s", "split": {"by_group_name": {"test": {"train": 0.5, "dev": 0.5}}}})
    with pytest.raises(DataError, match="may not go into 'train'"):
        leaky.split("test", "crop_1.jpg")
