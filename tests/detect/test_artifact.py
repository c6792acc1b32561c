"""The artifact CNN (detect/models/artifact.py) and its training (detect/train/fit_artifact.py).

Random-initialised networks with fixed seeds, and one tiny end-to-end
training run on a data set built by `python -m detect.train data` from a
local git repository: seconds on a CPU.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from detect.base import ModelCard, Task
from detect.models.artifact import (
    ArtifactDetector,
    ArtifactModelError,
    ArtifactNet,
    load_artifact,
    npr,
    read_weights,
    save_weights,
)
from detect.train.data import Item, read_index
from detect.train.fit_artifact import CACHE_SIDE, SIZE, Recipe, process, sampling_weights, train
from tests.detect.test_data_sources import image_bytes, make_repo, run_data

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """One torch thread: these nets are tiny, and the machine may be busy."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def card(digest: str | None = None) -> ModelCard:
    return ModelCard(
        name="npr-cnn",
        version="test",
        task=Task.IMAGE,
        input_size=(64, 64),
        weights_sha256=digest,
        licence="test",
        citation="test",
    )


def random_net(seed: int = 0, width: int = 8) -> ArtifactNet:
    torch.manual_seed(seed)
    return ArtifactNet(width=width).eval()


def noise(n: int = 3, side: int = 64, seed: int = 1) -> torch.Tensor:
    return torch.rand(n, 3, side, side, generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------ the residual and the network


def test_npr_of_a_nearest_upsampled_image_is_exactly_zero():
    small = noise(2, 20)
    up = small.repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)
    residual = npr(up)
    assert residual.shape == (2, 3, 40, 40)
    assert torch.count_nonzero(residual) == 0


def test_npr_of_noise_is_not_zero_and_odd_sides_are_cropped():
    residual = npr(noise(2, 33))
    assert residual.shape == (2, 3, 32, 32)
    assert residual.abs().mean() > 0.1
    # The same up-sampled image shifted by one pixel is off the 2x2 grid: no longer zero.
    up = noise(1, 20).repeat_interleave(2, dim=-2).repeat_interleave(2, dim=-1)
    assert npr(up[..., 1:, 1:]).abs().mean() > 0.05


def test_network_gives_one_logit_per_image():
    net = random_net()
    with torch.no_grad():
        assert net(noise(3, 64)).shape == (3,)
        assert net(noise(2, 128)).shape == (2,)


def test_score_is_invariant_to_quarter_turns():
    net = random_net(seed=3)
    detector = ArtifactDetector(net, card())
    batch = noise(3, 64, seed=7)
    base = detector.score(batch)
    assert base.shape == (3,) and base.dtype == torch.float32
    assert torch.all((base > 0) & (base < 1))
    for k in (1, 2, 3):
        turned = torch.rot90(batch, k, dims=(2, 3))
        assert torch.allclose(detector.score(turned), base, atol=1e-5, rtol=0), k
    # The invariance comes from the averaging: a single turn is not invariant.
    single = ArtifactDetector(net, card(), turns=1)
    spread = max((single.score(torch.rot90(batch, k, dims=(2, 3))) - single.score(batch)).abs().max().item() for k in (1, 2, 3))
    assert spread > 1e-4


# ------------------------------------------------------------------ weights files


def test_weights_round_trip_gives_identical_scores_and_the_file_digest(tmp_path):
    net = random_net(seed=5)
    path = tmp_path / "sub" / "artifact.pt"
    meta = {"version": "9", "size": 64, "width": 8, "licence": "test licence", "description": "a test net"}
    digest = save_weights(net, meta, path)
    assert digest == hashlib.sha256(path.read_bytes()).hexdigest()

    again, meta_again, digest_again = read_weights(path)
    assert meta_again == meta and digest_again == digest
    batch = noise(2, 64, seed=11)
    with torch.no_grad():
        assert torch.equal(again(batch), net(batch))

    detector = load_artifact("image", path)
    assert detector.card.weights_sha256 == digest
    assert detector.card.input_size == (64, 64)
    assert (detector.card.version, detector.card.licence) == ("9", "test licence")
    assert torch.equal(detector.score(batch), ArtifactDetector(net, card()).score(batch))
    assert load_artifact("face", path).card.task == Task.FACE


def test_missing_weights_file_is_a_clear_error(tmp_path):
    with pytest.raises(ArtifactModelError, match=r"weights not found: .*absent\.pt"):
        load_artifact("image", tmp_path / "absent.pt")


@pytest.mark.parametrize(
    "content",
    [
        pytest.param(lambda: b"not a torch file at all", id="garbage"),
        pytest.param(lambda: b"", id="empty"),
        pytest.param(lambda: _saved({"state": {}}), id="no-meta"),
        pytest.param(lambda: _saved({"state": random_net(width=8).state_dict(), "meta": {"width": 24}}), id="wrong-width"),
    ],
)
def test_unreadable_weights_file_is_a_clear_error(tmp_path, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content())
    with pytest.raises(ArtifactModelError, match="weights unreadable"):
        load_artifact("image", path)


def _saved(obj) -> bytes:
    import io

    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


# ------------------------------------------------------------------ training pieces


def _item(source: str, label: str, content: str, generator: str = "", n: int = 0, task: str = "image", family: str = "x") -> Item:
    return Item(
        path=f"{source}/{n}.png",
        source=source,
        label=label,
        family=family,
        generator=generator or source,
        content=content,
        task=task,
        split="train",
        group=source,
        licence="test",
        sha256="",
    )


def test_sampling_weights_balance_labels_within_content_and_sources_within_buckets():
    counts = {  # (source, label, content): files
        ("photos-a", "real", "scene"): 7,
        ("photos-b", "real", "scene"): 1,
        ("sd", "fake", "mixed"): 5,  # mixed content pools with scenes
        ("gan", "fake", "scene"): 2,
        ("dall", "fake", "scene"): 11,
        ("ffhq", "real", "face"): 3,
        ("stylegan", "fake", "face"): 9,
    }
    items = [_item(s, label, content, n=n) for (s, label, content), k in counts.items() for n in range(k)]
    weights = sampling_weights(items, "image")
    assert weights.shape == (len(items),) and np.all(weights > 0)
    assert weights.sum() == pytest.approx(1.0)

    def mass(pick) -> float:
        return float(sum(w for w, item in zip(weights, items) if pick(item)))

    def scene(item):
        return item.content != "face"

    real_scene = mass(lambda i: i.label == "real" and scene(i))
    fake_scene = mass(lambda i: i.label == "fake" and scene(i))
    real_face = mass(lambda i: i.label == "real" and not scene(i))
    fake_face = mass(lambda i: i.label == "fake" and not scene(i))
    assert real_scene == pytest.approx(fake_scene)
    assert real_face == pytest.approx(fake_face)
    # Equal mass per source within a bucket, spread evenly over its files.
    for source in ("photos-a", "photos-b"):
        assert mass(lambda i, s=source: i.source == s) == pytest.approx(real_scene / 2)
    for source in ("sd", "gan", "dall"):
        assert mass(lambda i, s=source: i.source == s) == pytest.approx(fake_scene / 3)
    for source in counts:
        own = [w for w, item in zip(weights, items) if item.source == source[0]]
        assert np.allclose(own, own[0])


def test_image_sampling_gives_each_generator_family_equal_mass_then_each_generator_within_it():
    """A family with many sources (GANs of many kinds) does not crowd out one with few (diffusion): family first;
    then each generator, so a source of several models counts once per model."""
    sources = {  # source: (label, family, files)
        "photos": ("real", "photo", 10),
        "sd": ("fake", "diffusion", 5),
        "dall": ("fake", "diffusion", 11),
        "cyclegan": ("fake", "gan", 2),
        "biggan": ("fake", "gan", 30),
        "pix2pix": ("fake", "gan", 4),
        "composites": ("fake", "composite", 3),
    }
    items = [_item(s, label, "scene", n=n, family=family) for s, (label, family, k) in sources.items() for n in range(k)]
    # A source with three models: two more diffusion generators, each as much as 'sd' or 'dall'.
    items += [_item("zoo", "fake", "scene", generator=f"model-{m}", n=n, family="diffusion") for m in (1, 2) for n in range(4)]
    weights = sampling_weights(items, "image")

    def mass(pick) -> float:
        return float(sum(w for w, item in zip(weights, items) if pick(item)))

    fakes = mass(lambda i: i.label == "fake")
    assert fakes == pytest.approx(0.5)
    for family in ("diffusion", "gan", "composite"):
        assert mass(lambda i, f=family: i.family == f) == pytest.approx(fakes / 3)
    for source in ("sd", "dall"):
        assert mass(lambda i, s=source: i.source == s) == pytest.approx(fakes / 12)
    assert mass(lambda i: i.source == "zoo") == pytest.approx(fakes / 6)
    for source in ("cyclegan", "biggan", "pix2pix"):
        assert mass(lambda i, s=source: i.source == s) == pytest.approx(fakes / 9)


def test_sampling_weights_for_faces_balance_per_method():
    counts = {"youtube": ("real", 6), "Deepfakes": ("fake", 4), "FaceSwap": ("fake", 1), "NeuralTextures": ("fake", 7)}
    items = [_item("ff", label, "face", generator=method, n=n, task="face") for method, (label, k) in counts.items() for n in range(k)]
    weights = sampling_weights(items, "face")
    assert weights.sum() == pytest.approx(1.0)
    by_method = {m: sum(w for w, i in zip(weights, items) if i.generator == m) for m in counts}
    assert by_method["youtube"] == pytest.approx(0.5)
    for method in ("Deepfakes", "FaceSwap", "NeuralTextures"):
        assert by_method[method] == pytest.approx(0.5 / 3)


@pytest.mark.parametrize("kind", ["image", "face"])
def test_process_gives_a_128_pixel_uint8_tile(kind):
    side = CACHE_SIDE[kind]
    crop = np.random.default_rng(0).integers(0, 256, size=(side, side, 3), dtype=np.uint8)
    for seed in range(24):  # enough draws to pass through every branch (resize, blur, JPEG, flip, turns)
        tile = process(np.random.default_rng(seed), crop, kind)
        assert tile.shape == (SIZE, SIZE, 3) == (128, 128, 3)
        assert tile.dtype == np.uint8


# ------------------------------------------------------------------ end to end


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    """12 'train' images (6 real, 6 fake) and 2 'dev' ones, built by the data command from a local repository."""
    top = tmp_path_factory.mktemp("artifact-data")
    files = {f"real/r{n}.png": image_bytes(n, ".png", side=72) for n in range(6)}
    files |= {f"fake/f{n}.jpg": image_bytes(20 + n, ".jpg", side=72) for n in range(6)}
    files |= {f"held/h{n}.png": image_bytes(40 + n, ".png", side=72) for n in range(2)}
    commit = make_repo(top / "mirror" / "acme+art" / "repo", files)
    common = {"repo": "acme/art", "commit": commit, "task": "image", "licence": "test", "group": "source", "count": 6}
    manifest = {
        "sources": [
            {
                **common,
                "name": "reals",
                "include": ["real/"],
                "label": "real",
                "family": "photo",
                "generator": "",
                "content": "scene",
                "split": "train",
            },
            {
                **common,
                "name": "fakes",
                "include": ["fake/"],
                "label": "fake",
                "family": "gan",
                "generator": "g",
                "content": "scene",
                "split": "train",
            },
            {
                **common,
                "name": "held",
                "include": ["held/"],
                "label": "fake",
                "family": "gan",
                "generator": "h",
                "content": "scene",
                "split": "dev",
                "count": 2,
            },
        ]
    }
    (top / "sources.json").write_text(json.dumps(manifest), encoding="utf-8")
    out = top / "ds"
    result = run_data(out, "--mirror", top / "mirror", "--manifest", top / "sources.json")
    assert result.returncode == 0, result.stderr
    assert len(read_index(out)) == 14
    return out


def test_tiny_training_run_writes_a_loadable_weights_file(dataset, tmp_path):
    recipe = Recipe(batch=4, steps=3, width=8, views=1, seed=2)
    out = tmp_path / "weights" / "artifact_image.pt"
    lines: list[str] = []
    digest = train(dataset, out, recipe, log=lines.append)
    assert digest == hashlib.sha256(out.read_bytes()).hexdigest()
    assert any("cached 12 crops of 12 files" in line for line in lines)
    assert any("step 3/3" in line for line in lines)

    _net, meta, read_digest = read_weights(out)
    assert read_digest == digest
    assert meta["recipe"] == dataclasses.asdict(recipe)
    assert meta["trained_on"] == ["fakes", "reals"]  # the 'dev' source is never trained on
    assert (meta["files"], meta["kind"], meta["size"], meta["width"]) == (12, "image", 128, 8)
    assert "--steps 3 --seed 2" in meta["command"]

    detector = load_artifact("image", out)
    assert detector.card.weights_sha256 == digest and detector.card.input_size == (128, 128)
    scores = detector.score(noise(2, 128))
    assert scores.shape == (2,) and torch.all((scores > 0) & (scores < 1))

    # The same recipe and data give the same file.
    assert train(dataset, tmp_path / "again.pt", recipe, log=lambda line: None) == digest


def test_training_without_train_items_is_an_error(dataset, tmp_path):
    with pytest.raises(ValueError, match="no 'face' items"):
        train(dataset, tmp_path / "x.pt", Recipe(kind="face", batch=4, steps=1), log=lambda line: None)


def test_a_left_out_family_is_not_trained_on(dataset, tmp_path):
    """--exclude-family (leave-one-family-out folds): its files are not read, and a fold left with one label is an error."""
    from detect.train.fit_artifact import training_items

    everything = training_items(dataset, "image")
    kept = training_items(dataset, "image", exclude_families=("gan",))
    assert {i.family for i in everything} - {i.family for i in kept} == {"gan"}
    assert kept and all(i.family != "gan" for i in kept)
    with pytest.raises(ValueError, match="not of both labels"):
        train(dataset, tmp_path / "x.pt", Recipe(batch=4, steps=1, exclude_families=("gan",)), log=lambda line: None)
    assert not (tmp_path / "x.pt").exists()
    assert "--exclude-family gan diffusion" in Recipe(exclude_families=("gan", "diffusion")).flags()


def test_artifact_command_on_a_folder_without_a_data_set_is_a_one_line_error(tmp_path):
    done = subprocess.run(
        [sys.executable, "-m", "detect.train", "artifact", str(tmp_path), "--out", str(tmp_path / "w.pt")],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "index.csv" in lines[0], done.stderr
    assert not (tmp_path / "w.pt").exists()


def test_shipped_weights_say_how_they_were_trained_and_on_what():
    """The files in detect/weights/ were written by the committed command; their metadata says which."""
    import json

    from detect.models.artifact import KINDS, read_weights
    from detect.train.data import MANIFEST

    sources = {entry["name"]: entry for entry in json.loads(MANIFEST.read_text())["sources"]}
    for kind, (name, _task, path) in KINDS.items():
        _net, meta, _digest = read_weights(path)
        assert meta["kind"] == kind and meta["command"].startswith(f"python -m detect.train artifact DATA --kind {kind}")
        assert meta["trained_on"] and set(meta["trained_on"]) <= set(sources)
        # Only sources the manifest puts (wholly or partly) in 'train'.
        for source in meta["trained_on"]:
            split = sources[source]["split"]
            assert split == "train" or "train" in json.dumps(split), source
        assert (Path(__file__).resolve().parents[2] / "detect" / "model_cards" / f"{name.replace('-', '_')}.md").is_file()


def test_the_detector_is_differentiable_for_attack_benchmarks():
    """bench_detect / bench_attack call detector(view) and take gradients: forward must not detach."""
    from detect.models.artifact import load_artifact

    detector = load_artifact("image")
    view = torch.rand(2, 3, 128, 128, requires_grad=True)
    probability = detector(view)
    (grad,) = torch.autograd.grad(probability.sum(), view)
    assert probability.shape == (2,) and grad.abs().sum() > 0
    assert torch.allclose(probability.detach(), detector.score(view.detach()), atol=1e-6)


def test_face_crops_are_cached_with_their_h264_copies(tmp_path):
    """--h264-views N: each face crop is stored as it is and N times after one H.264 frame (both labels alike)."""
    from PIL import Image as PILImage

    from detect.train.fit_artifact import CACHE_SIDE, Recipe, _crops

    rng = np.random.default_rng(0)
    face = tmp_path / "face.png"
    PILImage.fromarray(rng.integers(0, 256, (120, 110, 3), dtype=np.uint8)).save(face)
    side = CACHE_SIDE["face"]
    plain = _crops((str(face), "face", side, 1, 7, (0, 0, 0), "crop"))[0]
    stored = _crops((str(face), "face", side, 1, 7, (2, 30, 40), "crop"))[0]
    assert plain.shape == (1, side, side, 3) and stored.shape == (3, side, side, 3)
    assert np.array_equal(stored[0], plain[0])
    # Noise does not survive CRF 30-40: the copies are visibly different from the crop, and from each other's CRF.
    for copy in stored[1:]:
        assert np.abs(copy.astype(int) - stored[0]).mean() > 5
    assert np.array_equal(_crops((str(face), "face", side, 1, 7, (2, 30, 40), "crop"))[0], stored)  # the same seed, the same copies
    recipe = Recipe(kind="face", steps=10, h264_views=2, crf_min=30, crf_max=40)
    assert "--h264-views 2 --crf 30-40" in recipe.flags() and "--h264" not in Recipe(kind="face").flags()


def test_aligned_framing_stores_the_face_as_inference_crops_it_and_skips_files_without_one(tmp_path):
    """--framing aligned: the stored crop is the found face, aligned with inference's margin; no face, no crop."""
    from PIL import Image as PILImage

    from detect.faces import find_faces
    from detect.scoring import FACE_MARGIN
    from detect.train.fit_artifact import CACHE_SIDE, Recipe, _crops

    corpus = Path(__file__).resolve().parents[2] / "../shared/corpus/images/real/obama.jpg"
    if not corpus.is_file():
        pytest.skip("needs ../shared/corpus")
    side = CACHE_SIDE["face"]
    (face,) = find_faces(PILImage.open(corpus).convert("RGB"))
    stored, points = _crops((str(corpus), "face", side, 1, 7, (0, 0, 0), "aligned"))
    assert stored.shape == (1, side, side, 3)
    assert np.array_equal(stored[0], np.asarray(face.crop(side, margin=FACE_MARGIN).convert("RGB")))
    whole, unknown = _crops((str(corpus), "face", side, 1, 7, (0, 0, 0), "crop"))
    assert not np.array_equal(whole[0], stored[0])
    # The aligned crop carries its face's landmarks (self-blending needs them); the resized whole crop does not know them.
    assert points.shape == (1, 5, 2) and np.allclose(points[0], face.landmarks_in_crop(side, margin=FACE_MARGIN))
    assert np.isnan(unknown).all()

    flat = tmp_path / "flat.png"
    PILImage.new("RGB", (200, 200), (120, 110, 100)).save(flat)
    assert _crops((str(flat), "face", side, 1, 7, (1, 30, 40), "aligned"))[0].shape == (0, side, side, 3)
    assert "--framing aligned" in Recipe(kind="face", framing="aligned").flags() and "--framing" not in Recipe(kind="face").flags()
