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

from detect.batch import decoded_stills  # noqa: E402
from detect.device import autocast_context, pick_device, to_device  # noqa: E402
from detect.faces import MTCNN, find_faces  # noqa: E402
from detect.models.mesonet import MesoNetDetector  # noqa: E402
from detect.registry import installed_weights  # noqa: E402
from detect.video import aggregate, score_tracks, track_faces  # noqa: E402
from provenance.media import load_media  # noqa: E402

CORPUS = (ROOT / "../shared/corpus").resolve()
PORTRAITS = [
    "obama.jpg",
    "biden.jpg",
    "two_people.jpg",
    "lin-manuel-miranda.png",
    "multiface.jpg",
    "obama_and_biden.jpg",
    "skimage_astronaut.png",
]


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


def _old_mtcnn(commit: str):
    """The MTCNN class as it was at `commit` (its mtcnn.py and nms.py from git), for a same-run comparison."""
    import importlib.util
    import subprocess
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="mtcnn_"))
    for name in ("mtcnn", "nms"):
        source = subprocess.run(
            ["git", "show", f"{commit}:detect/faces/{name}.py"], cwd=ROOT, check=True, capture_output=True, text=True
        ).stdout
        (folder / f"old_{name}.py").write_text(source.replace("from detect.faces.nms import", "from old_nms import"))
    sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location("old_mtcnn", folder / "old_mtcnn.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.MTCNN


def _against(commit: str, device, rounds: int) -> list[str]:
    """MTCNN now against MTCNN at `commit` on the corpus stills, interleaved rounds, same faces counted."""
    from detect.faces.mtcnn import WEIGHTS_DIR
    from detect.train.sources import corpus_images

    plain = _old_mtcnn(commit)(WEIGHTS_DIR, device=device)

    class Old:  # the old detect() took an array: find_faces then passed np.asarray(image), as here
        def detect(self, picture, min_face):
            return plain.detect(np.asarray(picture), min_face=min_face)

    old, new = Old(), MTCNN(device=device)
    images = [Image.open(item.path).convert("RGB") for item in corpus_images()]
    times: dict[str, list[float]] = {"old": [], "new": []}
    counts = {}
    for _ in range(rounds):
        for key, detector in (("old", old), ("new", new)):
            start = time.perf_counter()
            counts[key] = sum(len(find_faces(image, detector=detector)) for image in images)
            times[key].append(time.perf_counter() - start)
    old_s, new_s = statistics.median(times["old"]), statistics.median(times["new"])
    return [
        "",
        f"MTCNN against its plain implementation at commit {commit} (`--against {commit}`), same run, {len(images)} corpus "
        f"stills through `find_faces`, medians of {rounds} interleaved rounds: {old_s:.2f} s before, {new_s:.2f} s now, "
        f"{old_s / new_s:.2f}x faster; faces found {counts['old']} before, {counts['new']} now.",
    ]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/faces.md")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument("--against", default="", help="also time MTCNN against its code at this git commit")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)  # on a shared, loaded machine one thread thrashes less
    torch.manual_seed(0)
    load_start = os.getloadavg()[0]
    device = pick_device()
    weights = installed_weights("meso4-df")
    if weights is None:
        sys.exit("MesoNet weights not found (needs ../shared/corpus or `provenance models add meso4-df`)")
    meso = MesoNetDetector(weights, device=device)
    detector = MTCNN(device=device)
    paths = _images()

    def score(faces) -> int:
        """Crop and score one image's faces (the work after MTCNN); how many there were."""
        if faces:
            batch = _tensor([f.crop(256) for f in faces])
            with torch.inference_mode(), autocast_context(device):
                meso.score(to_device(batch, device))
        return len(faces)

    def end_to_end() -> int:
        return sum(score(find_faces(Image.open(path), detector=detector)) for path in paths)

    workers = min(2, os.cpu_count() or 1)

    def pipelined() -> int:
        # The batch pipeline of `provenance detect`: decoding and (on the CPU) MTCNN in worker
        # processes, overlapping the detector running here.
        faces_seen = 0
        for _index, decoded, _error in decoded_stills(paths, [], workers, device, find_faces=device.type == "cpu"):
            faces = decoded.faces if decoded.faces is not None else find_faces(Image.fromarray(decoded.rgb), detector=detector)
            faces_seen += score(faces)
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

    timings: dict[str, list[float]] = {"end_to_end": [], "pipelined": [], "forward_only": [], "mtcnn_only": [], "crop_only": []}
    end_to_end()  # warm-up: lazy kernels and file cache
    for _ in range(args.rounds):  # interleaved so load changes hit every stage alike
        timings["end_to_end"] += _median_time(end_to_end, 1)
        timings["pipelined"] += _median_time(pipelined, 1)
        timings["forward_only"] += _median_time(forward_only, 1)
        timings["mtcnn_only"] += _median_time(detect_only, 1)
        timings["crop_only"] += _median_time(crop_only, 1)
    med = {k: statistics.median(v) for k, v in timings.items()}
    n_images, n_faces = len(paths), len(all_faces)

    video_rows = []
    clip = CORPUS / "video/real/ffpp_004.mp4"
    if clip.is_file():
        start = time.perf_counter()
        frames = load_media(clip).sample  # the one sampler (16 frames), as mint and detect use it
        sampling = time.perf_counter() - start

        def meso_faces(faces):
            with torch.inference_mode(), autocast_context(device):
                return meso.score(to_device(_tensor([f.crop(256) for f in faces]), device)).tolist()

        start = time.perf_counter()
        tracks = track_faces([(frame.index, find_faces(frame.image, detector=detector)) for frame in load_media(clip).sample])
        video_score, driving = aggregate(tracks, score_tracks(tracks, meso_faces))
        whole = time.perf_counter() - start
        video_rows = [
            f"| load (hash + sample 16 frames) of a 12.4 s 720p clip (provenance.media) | {sampling:.2f} s | {len(frames) / sampling:.1f} frames/s |",
            f"| sample + MTCNN + track + MesoNet, 16 frames | {whole:.2f} s | {16 / whole:.2f} frames/s; score {video_score:.3f}, frames {list(driving)} |",
        ]

    against_rows = _against(args.against, device, args.rounds) if args.against and CORPUS.is_dir() else []
    load = os.getloadavg()[0]
    lines = [
        "## Face path (MTCNN, aligned crops, MesoNet)",
        "",
        f"Command: `.venv/bin/python bench/bench_faces.py --rounds {args.rounds}"
        f"{f' --threads {args.threads}' if args.threads else ''}{f' --against {args.against}' if args.against else ''}`. Device: {device} "
        f"({torch.get_num_threads()} threads), load average at the start {load_start:.2f}, at the end {load:.2f}. {n_images} portraits, {n_faces} faces; "
        f"medians of {args.rounds} interleaved rounds.",
        "",
        "| stage | time per round | throughput |",
        "|---|---|---|",
        f"| end to end: read + decode + MTCNN + crop + MesoNet, one process | {med['end_to_end']:.3f} s | {n_images / med['end_to_end']:.2f} images/s |",
        f"| end to end, pipelined: decode + MTCNN in {workers} worker processes (start-up included), crop + MesoNet here | {med['pipelined']:.3f} s | {n_images / med['pipelined']:.2f} images/s |",
        f"| MesoNet forward only (same crops, one batch) | {med['forward_only']:.4f} s | {n_faces / med['forward_only']:.0f} faces/s |",
        f"| MTCNN only (decoded images) | {med['mtcnn_only']:.3f} s | {n_images / med['mtcnn_only']:.2f} images/s |",
        f"| aligned 256 px crops only | {med['crop_only']:.4f} s | {n_faces / med['crop_only']:.0f} crops/s |",
        *video_rows,
        "",
        f"End-to-end / forward-only throughput ratio: {med['forward_only'] / med['end_to_end']:.3f} one process, "
        f"{med['forward_only'] / med['pipelined']:.3f} pipelined "
        "(images/s end to end over images/s of MesoNet alone on the same faces). Shares of the one-process end-to-end time: "
        f"MTCNN {100 * med['mtcnn_only'] / med['end_to_end']:.0f}%, crops {100 * med['crop_only'] / med['end_to_end']:.0f}%, "
        f"MesoNet {100 * med['forward_only'] / med['end_to_end']:.0f}%, the rest (file read, decode, RGB conversion) "
        f"{100 * max(0.0, 1 - (med['mtcnn_only'] + med['crop_only'] + med['forward_only']) / med['end_to_end']):.0f}%. "
        "MesoNet (4 small layers) is far cheaper than finding the faces, so this ratio stays low by construction; "
        "the face path is bound by MTCNN and decoding, which `provenance detect` moves into worker processes on CPUs with 4 or more cores "
        "(on CUDA MTCNN runs on the GPU in the main process, following `pick_device()`). "
        "MTCNN keeps the plain implementation's results (tests/detect/test_faces_fast.py pins its windows, NMS, crops "
        "and the corpus boxes to it).",
        *against_rows,
        "",
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
