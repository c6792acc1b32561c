"""`python -m detect.train data OUT`: build the training / calibration / dev set from its sources.

The sources are public GitHub repositories pinned to a commit
(detect/train/sources.json). Each file is read from git by its blob at that
commit, so the set is the same on every machine, and written under
OUT/<source>/<path in the repository> with one row in OUT/index.csv:

    path, source, label, family, generator, content, task, split, group, licence, sha256

Where the repositories come from:

- `--mirror ROOT`: a local mirror laid out as ROOT/<owner>+<name>/repo
  (bare, or a work tree with .git), as the project's `fetch` tool leaves it;
- otherwise `--git-base URL` (default https://github.com): a blobless clone
  into `--cache`, then the pinned commit is fetched.

Splits never cut through a group: a whole source, or each generator / image
class of it, goes to one of train, calib and dev (salted hash of the group),
so a dev generator was never trained or calibrated on. The fetched data stays
out of git; only the manifest and this command are committed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Iterator

MANIFEST = Path(__file__).resolve().parent / "sources.json"
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")
SPLITS = ("train", "calib", "dev")
SPLIT_SALT = "provenance-data-1"
INDEX_FIELDS = ("path", "source", "label", "family", "generator", "content", "task", "split", "group", "licence", "sha256")


class DataError(Exception):
    """A source cannot be read, or the manifest is malformed."""


@dataclass(frozen=True)
class Item:
    path: str  # relative to the dataset root
    source: str
    label: str  # real | fake
    family: str
    generator: str
    content: str
    task: str  # image | face
    split: str
    group: str
    licence: str
    sha256: str

    def row(self) -> dict[str, str]:
        return {k: getattr(self, k) for k in INDEX_FIELDS}


@dataclass(frozen=True)
class Source:
    """One manifest entry; see sources.json's `about`."""

    raw: dict = field(repr=False)

    @property
    def name(self) -> str:
        return self.raw["name"]

    @property
    def repo(self) -> str:
        return self.raw["repo"]

    @property
    def commit(self) -> str:
        return self.raw["commit"]

    def wants(self, path: str) -> bool:
        suffixes = tuple(s.lower() for s in self.raw.get("suffixes", IMAGE_SUFFIXES))
        if not path.lower().endswith(suffixes):
            return False
        return any(path.startswith(prefix) for prefix in self.raw["include"])

    def field(self, key: str, path: str) -> str | None:
        """A per-file attribute: a constant, or a regex group over the path (None: the file is skipped)."""
        spec = self.raw.get(key, "")
        if isinstance(spec, str):
            return spec
        found = re.search(spec["from_path"], path)
        if found is None:
            return None
        value = found.group(1)
        if "map" in spec:
            return spec["map"].get(value)
        return value

    def label(self, path: str) -> str | None:
        spec = self.raw["label"]
        if isinstance(spec, str):
            return spec
        return spec["match"] if re.search(spec["from_path"], path) else spec["else"]

    def group(self, path: str, generator: str) -> str | None:
        spec = self.raw.get("group", "source")
        if spec == "source":
            return self.name
        if spec == "generator":
            return generator
        return self.field("group", path)

    def split(self, group: str, path: str = "") -> str | None:
        spec = self.raw["split"]
        if isinstance(spec, str):
            return spec
        if "by_group_name" in spec:
            chosen = spec["by_group_name"].get(group)
            if isinstance(chosen, dict):
                # Shares by file within a group: only where the source names no finer unit
                # (FaceForensics++ crops without their video ids), and never into 'train'.
                if "train" in chosen:
                    raise DataError(f"source {self.name}: a by-file share may not go into 'train'")
                return split_by_hash(f"{self.name}:{group}:{path}", chosen)
            return chosen
        return split_by_hash(f"{self.name}:{group}", spec["by_group"])

    def keep(self, path: str) -> bool:
        """Sources with a `limit` keep a fixed, hash-chosen share of their files."""
        limit = self.raw.get("limit")
        if not limit:
            return True
        share = limit / self.raw["count"]
        return _unit(f"keep:{self.name}:{path}") < share


def _unit(key: str) -> float:
    digest = hashlib.sha256(f"{SPLIT_SALT}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def split_by_hash(key: str, shares: dict[str, float]) -> str:
    """The split a group falls in: its salted hash against the cumulative shares."""
    u, total = _unit(key), 0.0
    for name, share in shares.items():
        total += share
        if u < total:
            return name
    return list(shares)[-1]


def load_manifest(path: Path = MANIFEST) -> list[Source]:
    try:
        raw = json.loads(Path(path).read_text(encoding="utf-8"))
        sources = [Source(entry) for entry in raw["sources"]]
        for source in sources:
            for key in ("name", "repo", "commit", "include", "label", "split", "licence", "count"):
                if key not in source.raw:
                    raise DataError(f"source {source.raw.get('name', '?')}: missing {key!r}")
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise DataError(f"malformed sources manifest {path}: {exc}") from None
    names = [s.name for s in sources]
    if len(set(names)) != len(names):
        raise DataError("duplicate source names in the manifest")
    return sources


# ------------------------------------------------------------------ git access


def _git_message(stderr: bytes) -> str:
    """git's reason on one line: its first fatal/error line (clone failures add advice lines after it)."""
    lines = [line.strip() for line in stderr.decode(errors="replace").splitlines() if line.strip()]
    for line in lines:
        if line.startswith(("fatal:", "error:")):
            return line
    return lines[0] if lines else "failed"


def _git(git_dir: Path, *args: str, input: bytes | None = None) -> bytes:
    try:
        done = subprocess.run(["git", "--git-dir", str(git_dir), *args], input=input, capture_output=True, check=False)
    except FileNotFoundError:
        raise DataError("git is not installed") from None
    if done.returncode != 0:
        raise DataError(f"git {' '.join(args[:2])} in {git_dir}: {_git_message(done.stderr)}")
    return done.stdout


def mirror_git_dir(root: Path, repo: str) -> Path:
    """ROOT/<owner>+<name>/repo as a bare repository or a work tree with .git."""
    base = Path(root) / repo.replace("/", "+") / "repo"
    for candidate in (base / ".git", base):
        if (candidate / "objects").is_dir():
            return candidate
    raise DataError(f"{repo}: no mirror at {base}")


def clone_git_dir(cache: Path, repo: str, commit: str, git_base: str) -> Path:
    """A blobless bare clone of git_base/repo in the cache, with `commit` present."""
    target = Path(cache) / (repo.replace("/", "+") + ".git")
    url = f"{git_base.rstrip('/')}/{repo}"
    if not (target / "objects").is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(
            ["git", "clone", "--bare", "--quiet", "--filter=blob:none", url, str(target)], capture_output=True, check=False
        )
        if done.returncode != 0:
            raise DataError(f"cannot clone {url}: {_git_message(done.stderr)}")
    try:
        _git(target, "cat-file", "-e", f"{commit}^{{commit}}")
    except DataError:
        try:
            _git(target, "fetch", "--quiet", "origin", commit)
        except DataError as exc:
            raise DataError(f"{repo}: cannot fetch commit {commit} from {url} ({exc})") from None
    return target


def list_blobs(git_dir: Path, commit: str, prefixes: Iterable[str]) -> list[tuple[str, str]]:
    """(path, blob id) of every file under the prefixes at the commit."""
    out = _git(git_dir, "ls-tree", "-r", "-z", commit)
    found = []
    for record in out.split(b"\0"):
        if not record:
            continue
        meta, path = record.split(b"\t", 1)
        _mode, kind, blob = meta.decode().split()
        text = path.decode("utf-8", errors="surrogateescape")
        if kind == "blob" and any(text.startswith(p) for p in prefixes):
            found.append((text, blob))
    return sorted(found)


def read_blobs(git_dir: Path, blobs: list[str]) -> Iterator[tuple[str, bytes]]:
    """Blob contents through one `git cat-file --batch` (fast for thousands of small files)."""
    process = subprocess.Popen(["git", "--git-dir", str(git_dir), "cat-file", "--batch"], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert process.stdin and process.stdout
    try:
        for blob in blobs:
            process.stdin.write(blob.encode() + b"\n")
            process.stdin.flush()
            header = process.stdout.readline().decode().split()
            if len(header) != 3:
                raise DataError(f"blob {blob} missing ({' '.join(header)}); a blobless clone needs network to fill it")
            size = int(header[2])
            data = process.stdout.read(size)
            process.stdout.read(1)  # the newline after each object
            yield blob, data
    finally:
        process.stdin.close()
        process.wait()


# ------------------------------------------------------------------ building


def plan(source: Source, paths: Iterable[str]) -> list[tuple[str, Item]]:
    """(path in repo, item without sha256) for every file the source takes."""
    planned = []
    for path in paths:
        if not source.wants(path) or not source.keep(path):
            continue
        label = source.label(path)
        generator = source.field("generator", path)
        family = source.field("family", path)
        if label is None or generator is None or family is None:
            continue
        group = source.group(path, generator)
        split = source.split(group, path) if group is not None else None
        if group is None or split is None:
            continue
        if split not in SPLITS:
            raise DataError(f"source {source.name}: unknown split {split!r}")
        item = Item(
            path=str(PurePosixPath(source.name) / path),
            source=source.name,
            label=label,
            family=family,
            generator=generator or ("real" if label == "real" else "unknown"),
            content=source.raw.get("content", ""),
            task=source.raw.get("task", "image"),
            split=split,
            group=group,
            licence=source.raw["licence"],
            sha256="",
        )
        planned.append((path, item))
    return planned


def build(
    out: Path,
    sources: list[Source],
    git_dir_for: Callable[[Source], Path],
    progress: Callable[[str, int, int], None] | None = None,
    merge: bool = False,
) -> list[Item]:
    """Write every source's files under `out` and `out/index.csv`; files already there with the right hash are kept.

    With `merge` (building only some sources into an existing set) the index keeps the rows of every
    other source it already lists, so adding one source never drops the rest; the returned items are
    the whole index.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    built = {source.name for source in sources}
    items: list[Item] = []
    if merge and (out / "index.csv").is_file():
        items = [item for item in read_index(out) if item.source not in built]
    for source in sources:
        git_dir = git_dir_for(source)
        try:
            _git(git_dir, "cat-file", "-e", f"{source.commit}^{{commit}}")
        except DataError:
            raise DataError(f"source {source.name}: commit {source.commit} not found in {git_dir}") from None
        blobs = dict(list_blobs(git_dir, source.commit, source.raw["include"]))
        try:
            planned = plan(source, blobs)
        except (KeyError, TypeError, AttributeError, IndexError, re.error) as exc:
            raise DataError(f"source {source.name}: malformed manifest entry ({type(exc).__name__}: {exc})") from None
        if not planned:
            raise DataError(f"source {source.name}: no files matched at {source.commit[:12]}")
        by_blob: dict[str, list[tuple[str, Item]]] = {}
        for path, item in planned:
            by_blob.setdefault(blobs[path], []).append((path, item))
        done = 0
        for blob, data in read_blobs(git_dir, list(by_blob)):
            digest = hashlib.sha256(data).hexdigest()
            for _path, item in by_blob[blob]:
                target = out / item.path
                if not (target.is_file() and hashlib.sha256(target.read_bytes()).hexdigest() == digest):
                    target.parent.mkdir(parents=True, exist_ok=True)
                    target.write_bytes(data)
                items.append(Item(**{**item.row(), "sha256": digest}))
                done += 1
            if progress:
                progress(source.name, done, len(planned))
    with (out / "index.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=INDEX_FIELDS)
        writer.writeheader()
        for item in items:
            writer.writerow(item.row())
    return items


def read_index(root: Path) -> list[Item]:
    """The items of a built dataset (OUT/index.csv)."""
    path = Path(root) / "index.csv"
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return [Item(**row) for row in csv.DictReader(handle)]
    except FileNotFoundError:
        raise DataError(f"{path}: no dataset here (build one with `python -m detect.train data {root}`)") from None
    except (OSError, TypeError) as exc:
        raise DataError(f"{path}: unreadable index ({exc})") from None


def summary(items: list[Item]) -> str:
    """Counts per split, label and family, as a small text table."""
    counts: dict[tuple[str, str, str], int] = {}
    for item in items:
        key = (item.split, item.label, item.family)
        counts[key] = counts.get(key, 0) + 1
    lines = ["split  label  family        count"]
    for (split, label, family), n in sorted(counts.items()):
        lines.append(f"{split:<6} {label:<6} {family:<13} {n}")
    return "\n".join(lines)
