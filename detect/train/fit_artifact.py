"""Train the artifact CNNs (detect/models/artifact.py) from scratch on the built data set.

    python -m detect.train artifact DATA --kind image   # whole-image tiles, 'train' split
    python -m detect.train artifact DATA --kind face    # FaceForensics++ face crops, 'train' split

Only the 'train' split is read: 'calib' fits the ensemble, 'dev' is never
trained or calibrated on. What keeps processing and content from being the
signal:

- every tile goes through the same random processing whatever its label:
  a native crop, a reduction (0.73-1x) or an enlargement / squash (up to
  1.6x per axis, random filter), JPEG re-encoding at
  quality 60-98 on half of them, mild blur now and then, a random flip and
  quarter turn (JPEG tables, file format and resolution of a source are
  therefore not what the network can learn);
- sampling is balanced: real and fake have equal mass within faces and within
  scenes, every family within those (diffusion, GAN, composite) has equal mass
  and every generator within a family too (reals: every source), so neither
  content, nor the family with the most sources, nor the largest source
  dominates;
- with `--resynth SHARE`, that share of the fake tiles are real crops reduced and
  grown back by a randomly drawn up-sampler (detect/train/resynth.py): the same
  content as the reals, so only the up-sampling trace tells them apart.
"""

from __future__ import annotations

import io
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageFilter

from detect.models.artifact import ArtifactNet, save_weights
from detect.tiles import fill_tile, to_rgb_array
from detect.train.data import Item, read_index
from detect.train.resynth import resynthesise
from detect.train.sbi import self_blend_face
from detect.train.synth import h264

CACHE_SIDE = {"image": 176, "face": 160}  # stored crop side: room for reductions down to 0.73x / face jitter
SIZE = 128
MAX_DECODE_SIDE = 2048


@dataclass(frozen=True)
class Recipe:
    kind: str = "image"
    steps: int = 4500
    batch: int = 64
    lr: float = 2e-3
    width: int = 24
    views: int = 2  # stored crops per image
    seed: int = 0
    # Face crops: this many extra stored copies of each crop after one H.264 intra frame at a CRF drawn
    # from [crf_min, crf_max] (both labels alike), since face swaps reach a verifier as compressed video.
    # Tried with 2 copies at 18-45 and rejected (lower on dev at every CRF: model_cards/npr_cnn_face.md);
    # kept so that experiment can be rerun.
    h264_views: int = 0
    crf_min: int = 18
    crf_max: int = 45
    # Face crops: "crop" resizes the stored FaceForensics++ crop as it is; "aligned" finds the face in it with the
    # pipeline's face finder and stores the aligned crop with inference's margin (detect.scoring.FACE_MARGIN), the
    # framing every face is scored in at inference (crops without a found face are left out).
    framing: str = "crop"
    # Families left out of training (leave-one-family-out folds of the protocol: how the network does on a kind of
    # generator or manipulation it never saw). The shipped weights leave none out.
    exclude_families: tuple[str, ...] = ()
    # Image: this share of the fake picks is replaced by a real crop reduced and grown back by a randomly drawn
    # up-sampler (detect/train/resynth.py): fakes of countless decoders with real content, so that the trace
    # generators share, not the look of the families in the data, is what the network learns.
    resynth: float = 0.0
    # Face (aligned framing): this share of the fake picks is a real face crop blended with an altered copy of itself
    # on its landmarks (Self-Blended Images, detect/train/sbi.py): the blending trace every face swap leaves, over every
    # real identity, instead of only the four FaceForensics++ methods' own quirks.
    sbi: float = 0.0

    def flags(self) -> str:
        """The command-line flags that reproduce this recipe (defaults left out)."""
        parts = [f"--steps {self.steps} --seed {self.seed}"]
        if self.h264_views:
            parts.append(f"--h264-views {self.h264_views} --crf {self.crf_min}-{self.crf_max}")
        if self.framing != "crop":
            parts.append(f"--framing {self.framing}")
        if self.exclude_families:
            parts.append("--exclude-family " + " ".join(self.exclude_families))
        if self.resynth:
            parts.append(f"--resynth {self.resynth:g}")
        if self.sbi:
            parts.append(f"--sbi {self.sbi:g}")
        return " ".join(parts)


def training_items(root: Path, kind: str, split: str = "train", exclude_families: tuple[str, ...] = ()) -> list[Item]:
    return [i for i in read_index(root) if i.split == split and i.task == kind and i.family not in exclude_families]


def _decode(path: Path) -> np.ndarray:
    with Image.open(path) as image:
        image.draft("RGB", (MAX_DECODE_SIDE, MAX_DECODE_SIDE))  # JPEGs decode reduced when huge
        image.load()
        return to_rgb_array(image)


def _aligned_face(rgb: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The largest face the pipeline finds in `rgb`, cropped as inference crops it (aligned, its margin), and its five
    landmarks in that crop; None without a face."""
    from detect.faces import find_faces
    from detect.scoring import FACE_MARGIN

    faces = find_faces(Image.fromarray(rgb))
    if not faces:
        return None
    face = max(faces, key=lambda f: f.width * f.height)
    crop = np.asarray(face.crop(side, margin=FACE_MARGIN).convert("RGB"))
    return crop, np.asarray(face.landmarks_in_crop(side, margin=FACE_MARGIN), dtype=np.float32)


def _crops(job: tuple[str, str, int, int, int, tuple[int, int, int], str]) -> tuple[np.ndarray, np.ndarray]:
    """`views` stored crops of one file: native-resolution squares (image) or the face (face: the whole stored crop
    resized, or the aligned crop inference takes, see Recipe.framing), the latter followed by its H.264 copies
    (count, lowest and highest CRF); and each crop's five face landmarks (NaN where not known: images, or the
    whole stored crop). A face file in which no face is found under "aligned" gives no crop."""
    path, kind, side, views, seed, (compressed, crf_min, crf_max), framing = job
    rng = np.random.default_rng(seed)
    rgb = _decode(Path(path))
    unknown = np.full((5, 2), np.nan, dtype=np.float32)
    if kind == "face":
        landmarks = unknown
        if framing == "aligned":
            found = _aligned_face(rgb, side)
            if found is None:
                return np.zeros((0, side, side, 3), dtype=np.uint8), np.zeros((0, 5, 2), dtype=np.float32)
            face, landmarks = found
        else:
            face = np.asarray(Image.fromarray(rgb).resize((side, side), Image.Resampling.BILINEAR))
        stack = np.stack([face] + [h264(face, int(rng.integers(crf_min, crf_max + 1))) for _ in range(compressed)])
        return stack, np.stack([landmarks] * len(stack))  # the H.264 copies keep the crop's geometry
    if min(rgb.shape[:2]) < side:
        rgb = fill_tile(rgb, side)
    height, width = rgb.shape[:2]
    out = []
    for _ in range(views):
        y, x = rng.integers(0, height - side + 1), rng.integers(0, width - side + 1)
        out.append(rgb[y : y + side, x : x + side])
    return np.stack(out), np.stack([unknown] * len(out))


def cache_crops(
    root: Path,
    items: list[Item],
    kind: str,
    views: int,
    seed: int,
    workers: int = 2,
    h264: tuple[int, int, int] = (0, 0, 0),
    framing: str = "crop",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(crops, index of the item each crop came from, each crop's face landmarks or NaN), decoded in worker processes."""
    side = CACHE_SIDE[kind]
    jobs = [(str(Path(root) / item.path), kind, side, views, seed * 1_000_003 + n, h264, framing) for n, item in enumerate(items)]
    crops, owners, landmarks = [], [], []
    with ProcessPoolExecutor(workers) as pool:
        for n, (stack, points) in enumerate(pool.map(_crops, jobs, chunksize=16)):
            crops.append(stack)
            landmarks.append(points)
            owners += [n] * len(stack)
    return np.concatenate(crops), np.asarray(owners), np.concatenate(landmarks)


def sampling_weights(items: list[Item], kind: str) -> np.ndarray:
    """Equal mass per label within each content bucket; within those, images give each family (diffusion, gan,
    composite, ...) equal mass and each generator equal mass within its family (reals: each source), faces each
    method equal mass.

    Family, then generator: what the network has to carry to new generators is what many generators share, so each
    generator counts once whatever the size of the source it came in (one source holds 40 text-to-image models,
    another one GAN). With equal mass per source, a family of many small GAN sources took most of the fake mass from
    diffusion, whose generators come in few large sources, and the diffusion figures fell (model_cards/npr_cnn.md).
    """
    buckets: dict[tuple[str, str], dict[str, dict[str, int]]] = {}
    keys = []
    for item in items:
        bucket = (item.label, "face" if item.content == "face" else "scene") if kind == "image" else (item.label, "face")
        family, member = (item.family, item.generator or item.source) if kind == "image" else ("", item.generator)
        buckets.setdefault(bucket, {}).setdefault(family, {}).setdefault(member, 0)
        buckets[bucket][family][member] += 1
        keys.append((bucket, family, member))
    weights = np.array([1.0 / (len(buckets[b]) * len(buckets[b][f]) * buckets[b][f][m]) for b, f, m in keys])
    return weights / weights.sum()


def process(rng: np.random.Generator, crop: np.ndarray, kind: str) -> np.ndarray:
    """One training tile from a stored crop; the same distribution for both labels."""
    side = crop.shape[0]
    image = Image.fromarray(crop)
    resample = [Image.Resampling.BILINEAR, Image.Resampling.BICUBIC, Image.Resampling.LANCZOS][rng.integers(3)]
    chance = rng.random()
    if kind == "image" and chance < 0.2:
        scale = rng.uniform(SIZE / side, 1.0)
        image = image.resize((round(side * scale),) * 2, resample)
    elif kind == "image" and chance < 0.4:
        # Enlarged or squashed photos (uploads resized to a square, upscaled portraits) carry
        # interpolation traces of their own: given to both labels, they cannot be the fake signal.
        fx, fy = rng.uniform(SIZE / side, 1.6, size=2)
        image = image.resize((max(SIZE, round(side * fx)), max(SIZE, round(side * fy))), resample)
    elif kind == "face":
        target = int(rng.integers(SIZE, side + 1))
        image = image.resize((target, target), Image.Resampling.BILINEAR)
    width, height = image.size
    x, y = int(rng.integers(0, width - SIZE + 1)), int(rng.integers(0, height - SIZE + 1))
    image = image.crop((x, y, x + SIZE, y + SIZE))
    if rng.random() < 0.1:
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.0))))
    if rng.random() < 0.5:
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=int(rng.integers(60, 99)))
        image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB")
    tile = np.asarray(image)
    if rng.random() < 0.5:
        tile = tile[:, ::-1]
    return np.rot90(tile, int(rng.integers(4)))


def train(root: Path, out: Path, recipe: Recipe, log=print) -> str:
    torch.manual_seed(recipe.seed)
    rng = np.random.default_rng(recipe.seed)
    items = training_items(root, recipe.kind, exclude_families=recipe.exclude_families)
    if not items:
        raise ValueError(f"no '{recipe.kind}' items in the 'train' split of {root}")
    if len({item.label for item in items}) < 2:
        raise ValueError(f"the '{recipe.kind}' items left for training in {root}'s 'train' split are not of both labels")
    labels = np.array([item.label == "fake" for item in items], dtype=np.float32)
    start = time.time()
    compressed = (recipe.h264_views, recipe.crf_min, recipe.crf_max) if recipe.kind == "face" else (0, 0, 0)
    framing = recipe.framing if recipe.kind == "face" else "crop"
    crops, owners, landmarks = cache_crops(
        root, items, recipe.kind, recipe.views if recipe.kind == "image" else 1, recipe.seed, h264=compressed, framing=framing
    )
    faceless = len(items) - len(np.unique(owners))
    log(f"cached {len(crops)} crops of {len(items)} files in {time.time() - start:.0f} s ({faceless} files gave no crop)")
    item_weights = sampling_weights(items, recipe.kind)
    crop_weights = item_weights[owners] / np.bincount(owners, minlength=len(items))[owners]
    crop_weights /= crop_weights.sum()
    # Synthetic fakes made from real crops: up-sampling traces for images, self-blends for faces (which need the
    # crop's landmarks, known only in the aligned framing).
    synthetic = recipe.resynth if recipe.kind == "image" else recipe.sbi
    real_crops = np.flatnonzero((labels[owners] == 0) & (recipe.kind == "image" or ~np.isnan(landmarks).any(axis=(1, 2))))
    if synthetic and not len(real_crops):
        raise ValueError("--sbi needs real face crops with landmarks: train with --framing aligned")
    real_weights = crop_weights[real_crops] / crop_weights[real_crops].sum() if len(real_crops) else crop_weights[:0]
    fake_tiles = [0, 0]  # fake picks, and how many of them were synthetic

    def pick_tile(index: int) -> np.ndarray:
        crop = crops[index]
        if labels[owners[index]] == 1:
            fake_tiles[0] += 1
            if synthetic and rng.random() < synthetic:
                source = rng.choice(real_crops, p=real_weights)
                if recipe.kind == "image":
                    crop = resynthesise(rng, crops[source])
                else:
                    crop, _mask = self_blend_face(rng, crops[source].copy(), landmarks[source])
                fake_tiles[1] += 1
        return process(rng, crop, recipe.kind)

    net = ArtifactNet(width=recipe.width).to(memory_format=torch.channels_last)  # type: ignore[call-overload]  # torch's stubs omit memory_format
    optimiser = torch.optim.AdamW(net.parameters(), lr=recipe.lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=recipe.lr, total_steps=recipe.steps, pct_start=0.1)
    net.train()
    running = []
    for step in range(recipe.steps):
        picks = rng.choice(len(crops), size=recipe.batch, p=crop_weights)
        batch = np.stack([pick_tile(i) for i in picks])
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).float().div_(255.0).contiguous(memory_format=torch.channels_last)
        y = torch.from_numpy(labels[owners[picks]])
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), y)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        running.append(loss.item())
        if (step + 1) % 100 == 0 or step + 1 == recipe.steps:
            log(f"step {step + 1}/{recipe.steps} loss {np.mean(running[-100:]):.4f} ({time.time() - start:.0f} s)")
    if synthetic:
        kind_of = "up-sampling fakes" if recipe.kind == "image" else "self-blended faces"
        log(f"synthetic {kind_of}: {fake_tiles[1]} of {fake_tiles[0]} fake tiles")
    net.eval()
    sources = sorted({item.source for item in items})
    meta = {
        "version": "1",
        "kind": recipe.kind,
        "size": SIZE,
        "width": recipe.width,
        "recipe": {k: getattr(recipe, k) for k in Recipe.__dataclass_fields__},
        "command": f"python -m detect.train artifact DATA --kind {recipe.kind} {recipe.flags()}",
        "trained_on": sources,
        "files": len(items),
        "licence": "weights derived from research-use data (FaceForensics++, ImageNet, FFHQ-derived and unlicensed "
        "generator output): research and non-commercial use only; see detect/model_cards",
        "description": f"NPR residual + small CNN trained from scratch on {len(items)} '{recipe.kind}' files of "
        f"{len(sources)} sources (detect/train/sources.json)",
    }
    return save_weights(net, meta, out)
