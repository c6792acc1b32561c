"""Face path throughput: MTCNN + aligned crops + MesoNet, against MesoNet forward-only, same run.

Run:  .venv/bin/python bench/bench_faces.py [--rounds 5] [--threads N] [--out bench/results/faces.md]

Stages are timed separately on the same images in interleaved rounds and
medians reported, so the ratio end-to-end / forward-only says where the time
goes. Uses the corpus portraits when ../shared/corpus is present, the bundled
astronaut fixture otherwise; MesoNet needs the corpus weights (or an added file).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from detect.device import autocast_context, pick_device, to_device  # noqa: E402
from detect.faces import MTCNN, find_faces  # noqa: E402
from detect.registry import installed_weights  # noqa: E402
from detect.models.mesonet import MesoNetDetector  # noqa: E402
from detect.video import sample_frames, score_video  # noqa: E402

CORPUS = (ROOT / "../shared/corpus").resolve()
PORTRAITS = ["obama.jpg", "biden.jpg", "two_people.jpg", "lin-manuel-miranda.png", "multiface.jpg", "obama_and_biden.jpg", "skimage_astronaut.png"]


def _images() -> list[Path]:
    if CORPUS.is_dir():
        return [CORPUS / "images/real" / name for name in PORTRAITS]
    return [ROOT / "tests/detect/data/astronaut.jpg"] * 4


def _tensor(crops: list[Image.Image]) -> torch.Tensor:
    return torch.stack([torch.from_numpy(np.asarray(c, dtype=np.float32) / 255).permute(2, 0, 1) for c in crops])


def _median_time(fn, rounds: int) -> list[float]:
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/faces.md")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)  # on a shared, loaded machine one thread thrashes less
    torch.manual_seed(0)
    device = pick_device()
    weights = installed_weights("meso4-df")
    if weights is None:
        sys.exit("MesoNet weights not found (needs ../shared/corpus or `provenance models add meso4-df`)")
    meso = MesoNetDetector(weights, device=device)
    detector = MTCNN(device=device)
    paths = _images()

    def end_to_end() -> int:
        faces_seen = 0
        for path in paths:
            faces = find_faces(Image.open(path), detector=detector)
            if faces:
                batch = _tensor([f.crop(256) for f in faces])
                with torch.inference_mode(), autocast_context(device):
                    meso.score(to_device(batch, device))
            faces_seen += len(faces)
        return faces_seen

    all_faces = [f for p in paths for f in find_faces(Image.open(p), detector=detector)]
    crops = _tensor([f.crop(256) for f in all_faces])
    decoded = [Image.open(p).convert("RGB") for p in paths]

    def forward_only() -> None:
        with torch.inference_mode(), autocast_context(device):
            meso.score(to_device(crops, device))

    def detect_only() -> None:
        for image in decoded:
            find_faces(image, detector=detector)

    def crop_only() -> None:
        for face in all_faces:
            face.crop(256)

    timings: dict[str, list[float]] = {"end_to_end": [], "forward_only": [], "mtcnn_only": [], "crop_only": []}
    end_to_end()  # warm-up: lazy kernels and file cache
    for _ in range(args.rounds):  # interleaved so load changes hit every stage alike
        timings["end_to_end"] += _median_time(end_to_end, 1)
        timings["forward_only"] += _median_time(forward_only, 1)
        timings["mtcnn_only"] += _median_time(detect_only, 1)
        timings["crop_only"] += _median_time(crop_only, 1)
    med = {k: statistics.median(v) for k, v in timings.items()}
    n_images, n_faces = len(paths), len(all_faces)

    video_rows = []
    clip = CORPUS / "video/real/ffpp_004.mp4"
    if clip.is_file():
        start = time.perf_counter()
        frames = sample_frames(clip, 16)
        sampling = time.perf_counter() - start

        def meso_faces(faces):
            with torch.inference_mode(), autocast_context(device):
                return meso.score(to_device(_tensor([f.crop(256) for f in faces]), device)).tolist()

        start = time.perf_counter()
        result = score_video(clip, meso_faces, count=16, finder=lambda im: find_faces(im, detector=detector))
        whole = time.perf_counter() - start
        video_rows = [
            f"| sample 16 frames of a 12.4 s 720p clip (PyAV) | {sampling:.2f} s | {len(frames) / sampling:.1f} frames/s |",
            f"| score_video: sample + MTCNN + track + MesoNet, 16 frames | {whole:.2f} s | {16 / whole:.2f} frames/s; score {result.score:.3f}, frames {list(result.frames)} |",
        ]

    load = os.getloadavg()[0]
    lines = [
        "## Face path (MTCNN, aligned crops, MesoNet)",
        "",
        f"Command: `.venv/bin/python bench/bench_faces.py --rounds {args.rounds}"
        f"{f' --threads {args.threads}' if args.threads else ''}`. Device: {device} "
        f"({torch.get_num_threads()} threads), load average at the end {load:.2f}. {n_images} portraits, {n_faces} faces; "
        f"medians of {args.rounds} interleaved rounds.",
        "",
        "| stage | time per round | throughput |",
        "|---|---|---|",
        f"| end to end: read + decode + MTCNN + crop + MesoNet | {med['end_to_end']:.3f} s | {n_images / med['end_to_end']:.2f} images/s |",
        f"| MesoNet forward only (same crops, one batch) | {med['forward_only']:.4f} s | {n_faces / med['forward_only']:.0f} faces/s |",
        f"| MTCNN only (decoded images) | {med['mtcnn_only']:.3f} s | {n_images / med['mtcnn_only']:.2f} images/s |",
        f"| aligned 256 px crops only | {med['crop_only']:.4f} s | {n_faces / med['crop_only']:.0f} crops/s |",
        *video_rows,
        "",
        f"End-to-end / forward-only throughput ratio: {med['forward_only'] / med['end_to_end']:.3f} "
        "(images/s end to end over images/s of MesoNet alone on the same faces). Shares of the end-to-end time: "
        f"MTCNN {100 * med['mtcnn_only'] / med['end_to_end']:.0f}%, crops {100 * med['crop_only'] / med['end_to_end']:.0f}%, "
        f"MesoNet {100 * med['forward_only'] / med['end_to_end']:.0f}%, the rest (file read, decode, RGB conversion) "
        f"{100 * max(0.0, 1 - (med['mtcnn_only'] + med['crop_only'] + med['forward_only']) / med['end_to_end']):.0f}%. "
        "The face path is bound by the face finder and image decoding, not by the detector: a GPU helps it "
        "through MTCNN (which follows `pick_device()`) and decoding in worker processes, not through the detector's batch size.",
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
