"""Face-level training samples: aligned crops of real faces, and landmark self-blends of them.

Every draw starts from one real face (an MTCNN detection in a real photo) and
makes a crop the way inference does (`Face.crop`, aligned, margin ~0.3), at a
random working resolution, since faces in video frames are small:

- real (label 0): the crop as it is;
- fake (label 1): `sbi.self_blend_face` on the crop (or, sometimes, a face
  found in generator output from the corpus 'train' split).

Then both classes get the same treatment, freshly per draw (the dynamic
augmentation): Das et al.'s landmark cut-out, whole-crop colour and
sharpness changes, JPEG or H.264 compression at the
working resolution (so a compressed video frame does not read as "fake"),
up-sampling to the model's input as inference does, a horizontal flip.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageFilter

from detect.faces import Face, find_faces
from detect.train import sbi, synth
from detect.train.sources import corpus_samples, load_rgb

MIN_WORKING = 72  # smallest working resolution of a crop (pixels)


@dataclass
class FacePools:
    real: list[Face]
    fake: list[Face] = field(default_factory=list)  # faces in generator output (corpus 'train' split)

    @classmethod
    def load(cls, real_paths: list[Path], corpus_split: str | None, log=print) -> "FacePools":
        real: list[Face] = []
        fake: list[Face] = []
        for path in real_paths:
            real += find_faces(Image.fromarray(load_rgb(path)))
        if corpus_split:
            for _name, rgb, label in corpus_samples(corpus_split):
                (fake if label else real).extend(find_faces(Image.fromarray(rgb)))
        log(f"faces: {len(real)} real, {len(fake)} generated")
        if len(real) < 2:
            raise ValueError("need at least two real faces to train the face detector (the corpus 'train' split or --real photos)")
        return cls(real=real, fake=fake)

    def split_faces(self, every: int = 4) -> tuple["FacePools", "FacePools"]:
        """(training, held-out) pools: every `every`-th real face is held out, to validate on unseen faces."""
        held = [f for i, f in enumerate(self.real) if i % every == every - 1]
        kept = [f for i, f in enumerate(self.real) if i % every != every - 1]
        return FacePools(kept, self.fake), FacePools(held, [])


def _crop(rng: np.random.Generator, face: Face) -> tuple[np.ndarray, np.ndarray]:
    """An aligned crop at a random working size (never much above the face's own resolution) and its landmarks."""
    margin = float(rng.uniform(0.22, 0.4))
    native = max(face.width, face.height) * (1 + margin)
    working = int(rng.uniform(MIN_WORKING, 224)) if rng.random() < 0.7 else 224
    working = max(MIN_WORKING, min(working, round(native * 1.2)))
    crop = face.crop(working, margin=margin)
    return np.asarray(crop.convert("RGB")), face.landmarks_in_crop(working, margin=margin)


def _photometric(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    """Whole-crop colour and sharpness changes, so neither is a cue by itself (a blend's cue is a mismatch)."""
    image = Image.fromarray(rgb)
    if rng.random() < 0.5:
        image = ImageEnhance.Brightness(image).enhance(float(rng.uniform(0.8, 1.2)))
        image = ImageEnhance.Contrast(image).enhance(float(rng.uniform(0.8, 1.2)))
        image = ImageEnhance.Color(image).enhance(float(rng.uniform(0.7, 1.3)))
    choice = rng.random()
    if choice < 0.15:
        image = image.filter(ImageFilter.GaussianBlur(float(rng.uniform(0.3, 1.2))))
    elif choice < 0.3:
        image = image.filter(ImageFilter.UnsharpMask(radius=2, percent=int(rng.integers(30, 120))))
    return np.asarray(image)


def _compress(rng: np.random.Generator, rgb: np.ndarray) -> np.ndarray:
    choice = rng.random()
    if choice < 0.35:
        return synth.jpeg(rgb, int(rng.integers(40, 96)))
    if choice < 0.75:
        return synth.h264(rgb, int(rng.integers(18, 36)))
    return rgb


def draw_face(rng: np.random.Generator, pools: FacePools, size: int) -> tuple[np.ndarray, int]:
    """One augmented (size, size, 3) uint8 face crop and its label (1 = manipulated), balanced."""
    label = int(rng.random() < 0.5)
    if label and pools.fake and rng.random() < 0.1:
        rgb, landmarks = _crop(rng, pools.fake[int(rng.integers(len(pools.fake)))])
    else:
        rgb, landmarks = _crop(rng, pools.real[int(rng.integers(len(pools.real)))])
        if label:
            rgb, _mask = sbi.self_blend_face(rng, rgb, landmarks)
    if rng.random() < 0.3:
        rgb = sbi.face_cutout(rng, rgb, landmarks)
    rgb = _compress(rng, _photometric(rng, rgb))
    if rgb.shape[0] != size:
        rgb = np.asarray(Image.fromarray(rgb).resize((size, size), Image.Resampling.BILINEAR))
    if rng.random() < 0.5:
        rgb = rgb[:, ::-1]
    return np.ascontiguousarray(rgb), label


def fixed_face_set(pools: FacePools, size: int, count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A reproducible set: crops (N, 3, S, S) in [0, 1] and labels (N,)."""
    rng = np.random.default_rng(seed)
    crops, labels = zip(*(draw_face(rng, pools, size) for _ in range(count)))
    batch = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).float().div_(255.0)
    return batch, torch.tensor(labels, dtype=torch.float32)
