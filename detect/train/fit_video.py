"""Fit the ensemble's rule for videos with faces: the face-task detectors alone, judged on compressed face crops.

    python -m detect.train video-ensemble --data DATA    # writes the 'video' section of detect/weights/ensemble.json

Why a rule of its own: the manipulations this project guards against in
video are face swaps and re-enactment (FaceForensics++, DFDC), and video
reaches a verifier as H.264. The still ensemble is fitted on 'calib' files
that are mostly whole images, where the face detectors earn almost no weight
(npr-cnn-face's calibrated weight was 0.004 per logit against npr-cnn's
0.62), so a face-swap video was scored by npr-cnn's reading of its whole
frames: generator up-sampling traces, which a swapped face in a compressed
video does not carry.

Data: the 'calib' split's face crops (FaceForensics++ crops from the
repository's test folder; never trained on, and those in 'dev' are never
used here). Each goes through one H.264 intra frame at a CRF drawn from
CRF_RANGE (c23 to c40, what FaceForensics++ publishes); then the face is found
and cropped exactly as inference finds and crops a face in a video frame (the
set's face finder, the aligned crop with its margin), and every face-task
detector scores that crop. A crop in which no face is found is left out, as
inference would leave its face detectors out.

Why the framing matters: the stored FaceForensics++ crop is framed more
tightly than an aligned crop with its margin, and every face detector here
scores the aligned framing higher, reals included (effnet-lite0-face's mean
on calib originals: 0.365 on the resized crop, 0.447 aligned). A band fitted
on resized crops therefore called real videos, whose faces are found and
cropped the aligned way, likely_manipulated.

The fusion rule and the `uncertain` band come from the same leave-one-out
procedure as the stills' (`fit_ensemble`), on these rows only. Landmark
detectors (corneal highlights) score only faces whose eyes show a highlight,
and the stills' fit already found no positive slope for them: they stay at
weight 0 with that reason.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from detect.ensemble import EnsembleConfig, load_ensemble
from detect.train.data import Item, read_index
from detect.train.fit_ensemble import BAND_ERROR, apply_rule, band_from_scores, choose_rule_with_scores, fit_ensemble, usable_for_split
from detect.train.synth import h264

CRF_RANGE = (23, 40)
COMMAND = "`python -m detect.train video-ensemble --data DATA`"


def calib_face_items(root: Path) -> list[Item]:
    return [i for i in read_index(root) if i.split == "calib" and i.task == "face"]


def crf_of(item: Item) -> int:
    """A CRF drawn from CRF_RANGE by the file's path: the same for every run."""
    low, high = CRF_RANGE
    return low + int(hashlib.sha256(f"crf:{item.path}".encode()).hexdigest(), 16) % (high - low + 1)


def compressed_row(detectors, path: Path, crf: int | None) -> dict[str, float] | None:
    """{face-task detector: raw score} of the face in the crop at `path` after one H.264 frame at `crf` (None: as stored).

    The face is found and cropped as inference does it in a video frame (the
    largest face the set's face finder returns, `face_crop_tensor` at each
    detector's input). None when no face is found.
    """
    from detect.base import LandmarkDetector
    from detect.scoring import face_crop_tensor

    if detectors.find_faces is None:
        raise ValueError("the video rule is fitted on found faces, and this detector set has no face finder")
    with Image.open(path) as image:
        rgb = np.asarray(image.convert("RGB"))
        squeezed = Image.fromarray(rgb if crf is None else h264(rgb, crf))
    faces = detectors.find_faces(squeezed)
    if not faces:
        return None
    face = max(faces, key=lambda f: f.width * f.height)
    crops: dict[int, torch.Tensor] = {}  # by input size: detectors of one size share the crop
    row = {}
    for detector in detectors.face:
        if isinstance(detector, LandmarkDetector):
            continue
        size = detector.card.input_size[0]
        if size not in crops:
            crops[size] = face_crop_tensor(face, size)[None]
        row[detector.card.name] = float(detectors.run(detector, crops[size])[0])
    return row


def compressed_rows(detectors, root: Path, items: list[Item], log=print) -> tuple[list[dict[str, float]], list[int], int]:
    """Per item with a found face: its `compressed_row` at its own CRF (`crf_of`) and its label (1 fake); and how many had none."""
    rows, labels, faceless = [], [], 0
    for n, item in enumerate(items):
        row = compressed_row(detectors, Path(root) / item.path, crf_of(item))
        if row is None:
            faceless += 1
        else:
            rows.append(row)
            labels.append(int(item.label == "fake"))
        if (n + 1) % 100 == 0:
            log(f"scored {n + 1}/{len(items)} compressed calib crops ({faceless} without a found face)")
    return rows, labels, faceless


def fit_video_rule(rows: list[dict[str, float]], labels: list[int], note: str, log=print) -> EnsembleConfig:
    """The rule and band for videos with faces, chosen by leave-one-out over `rows` (all 'calib')."""
    where = ["calib"] * len(rows)
    best, figures, held = choose_rule_with_scores(rows, labels, where, usable_for_split)
    for rule, (auc, loss) in figures.items():
        log(f"video {rule}: leave-one-out AUC {auc:.3f}, log-loss {loss:.3f}")
    config = apply_rule(best, fit_ensemble(rows, labels, note, usable_for_split(where)), rows, labels, where)
    reals = [p for p, y in zip(held[best], labels) if not y]
    fakes = [p for p, y in zip(held[best], labels) if y]
    low, threshold, high = band_from_scores(reals, fakes)
    summary = "; ".join(f"{rule} {auc:.3f}/{loss:.3f}" for rule, (auc, loss) in figures.items())
    return replace(
        config,
        low=low,
        threshold=threshold,
        high=high,
        rule=f"{best} (chosen by leave-one-out AUC / log-loss on {len(rows)} compressed calib face crops: {summary}); "
        f"band from their leave-one-out scores ({len(reals)} real / {len(fakes)} fake): likely_manipulated from {high} "
        f"(at most {BAND_ERROR:.0%} of reals), likely_authentic below {low} (at most {BAND_ERROR:.0%} of fakes), threshold {threshold}",
    )


def fit_video_file(data: Path, out: Path, log=print) -> str:
    """Fit the video rule on `data`'s calib face crops and store it as the 'video' section of the ensemble file `out`."""
    from detect.detectors import load_default_detectors

    items = calib_face_items(data)
    if len({i.label for i in items}) < 2:
        raise ValueError(f"no 'calib' face crops of both labels in {data} (build it with `python -m detect.train data`)")
    still = load_ensemble(out)
    detectors = load_default_detectors(ensemble=still)
    rows, labels, faceless = compressed_rows(detectors, data, items, log)
    note = (
        f"{sum(labels)} fake / {len(labels)} 'calib' face crops of the data set (detect/train/sources.json), each after one "
        f"H.264 frame at CRF {CRF_RANGE[0]}-{CRF_RANGE[1]}, the face found and cropped as in a video frame ({faceless} crops "
        f"without a found face left out), face-task detectors only; {COMMAND}"
    )
    video = fit_video_rule(rows, labels, note, log)
    reasons = dict(video.reasons)
    for detector in detectors.face + detectors.image:
        name = detector.card.name
        if name not in video.weights:
            why = (
                "a whole-image detector"
                if detector in detectors.image
                else "it scores eye highlights, not crops (weight 0 in the stills' fit too)"
            )
            reasons[name] = f"not part of the video rule: {why}"
    video = replace(video, reasons=reasons, weights={**{d.card.name: 0.0 for d in detectors.face + detectors.image}, **video.weights})
    log(f"video rule: {video.rule}")
    Path(out).write_text(replace(still, video=video).to_json(), encoding="utf-8")
    return hashlib.sha256(Path(out).read_bytes()).hexdigest()
