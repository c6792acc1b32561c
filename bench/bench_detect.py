"""Detector benchmarks: corpus AUC/accuracy, throughput, PGD robustness.

    .venv/bin/python bench/bench_detect.py --out bench/results/detect.md
    .venv/bin/python bench/bench_detect.py --only throughput --out /tmp/throughput.md   # that part alone

1. Quality on ../shared/corpus: sample sheets are cut into 512-px tiles
   (each a separate image). Reported on the held-out 'test' split (never
   used for training or calibration) and on all still images (which include
   the splits the models were fitted on, so they flatter the fitted parts).
   Also the same held-out stills after ordinary processing (resizing, JPEG,
   one H.264 frame, quarter and half turns, blur, sharpening, contrast,
   noise): real photos must not start to read as manipulated.
2. Throughput: end-to-end files/s (decode in workers, tiles, faces, every
   detector, fusion) against model-forward-only files/s on the same inputs,
   same device, same run.
3. Robustness: white-box PGD (L-inf, eps 2/255 and 8/255) against the
   differentiable whole-image part of the ensemble (spectral + probe, fused
   with the shipped calibration and weights), on fakes the ensemble flags;
   attack success rate without and with a randomized-preprocessing defence
   (random down-scaling, shift and noise before scoring).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import cast

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageEnhance, ImageFilter

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.report import command_line, publish  # noqa: E402
from detect.analyze import Analyzer  # noqa: E402
from detect.ensemble import EnsembleConfig  # noqa: E402
from detect.stills import DecodedStill  # noqa: E402
from detect.tiles import tiles  # noqa: E402
from detect.train.metrics import accuracy, roc_auc  # noqa: E402
from detect.train.sources import CORPUS, corpus_images, corpus_samples  # noqa: E402
from detect.train.synth import h264, jpeg  # noqa: E402

# ---------------------------------------------------------------- quality


def score_samples(analyzer: Analyzer, samples):
    rows = []
    for name, rgb, label in samples:
        results, faces = analyzer.detector_results(DecodedStill(rgb=rgb))
        ran = {r.name: r.score for r in results if not r.skipped and r.score is not None}
        rows.append((name, label, ran, analyzer.ensemble.fuse(ran)))
    return rows


def quality_table(rows, ensemble: EnsembleConfig) -> list[str]:
    names = sorted({n for _, _, ran, _ in rows for n in ran})
    lines = ["| detector | n (fake/real) | AUC | accuracy @ threshold | fusion weight |", "|---|---|---|---|---|"]
    for name in names + ["ensemble"]:
        pairs = [(y, fused if name == "ensemble" else ran[name]) for _, y, ran, fused in rows if name == "ensemble" or name in ran]
        labels = [y for y, _ in pairs]
        scores = [s for _, s in pairs]
        threshold = ensemble.threshold if name == "ensemble" else 0.5
        if name == "ensemble":
            weight = "-"
        else:
            w = ensemble.weights.get(name, ensemble.default_weight)
            weight = f"{w:.3g}" + (f" ({ensemble.reasons[name]})" if w == 0 and name in ensemble.reasons else "")
        lines.append(
            f"| {name} | {len(pairs)} ({sum(labels)}/{len(labels) - sum(labels)}) | {roc_auc(labels, scores):.3f} "
            f"| {accuracy(labels, scores, threshold):.3f} (t={threshold:g}) | {weight} |"
        )
    return lines


def bench_quality(analyzer: Analyzer) -> list[str]:
    out = ["## Detection quality on the corpus", ""]
    splits = {s: corpus_samples(s) for s in ("train", "calib", "test")}
    scored = {s: score_samples(analyzer, v) for s, v in splits.items()}
    if analyzer.ensemble.rule:
        out += [f"Fusion rule (`detect/weights/ensemble.json`): {analyzer.ensemble.rule}.", ""]
    out += ["### Held-out 'test' split (never trained or calibrated on)", ""]
    out += quality_table(scored["test"], analyzer.ensemble) + [""]
    out += ["### All corpus stills (train + calib + test; fitted parts are flattered)", ""]
    out += quality_table([r for s in scored.values() for r in s], analyzer.ensemble) + [""]
    out += ["Per-sample ensemble scores on the test split:", "", "| sample | label | ensemble score |", "|---|---|---|"]
    for name, y, _ran, fused in scored["test"]:
        out.append(f"| {name} | {'fake' if y else 'real'} | {fused:.3f} |")
    out += ["", *bench_benign(analyzer, splits["calib"] + splits["test"])]
    videos = [p for p in sorted((CORPUS / "video").rglob("*.mp4"))]
    if videos:
        out += [
            "",
            "Videos (8 frames each):",
            "",
            "| video | label | score | frames | per-detector video scores |",
            "|---|---|---|---|---|",
        ]
        for path in videos:
            report = analyzer.analyze_file(path)
            members = ", ".join(f"{d.name} {d.score:.3f}" for d in report.detectors if not d.skipped)
            out.append(
                f"| {path.parent.name}/{path.name} | {report.label.value} | {report.score:.3f} | {list(report.frames)} | {members} |"
            )
    return out + [""]


def resized(rgb: np.ndarray, factor: float) -> np.ndarray:
    """Below 1: the photo reduced (Lanczos), as thumbnails are. Above 1: reduced by `factor` and enlarged
    back to its size with bicubic, as viewers and video scalers do."""
    image = Image.fromarray(rgb)
    shrink = factor if factor < 1 else 1 / factor
    small = image.resize((max(1, round(image.width * shrink)), max(1, round(image.height * shrink))), Image.Resampling.LANCZOS)
    return np.asarray(small if factor < 1 else small.resize(image.size, Image.Resampling.BICUBIC))


def _noisy(rgb: np.ndarray, sigma: float) -> np.ndarray:
    noise = np.random.default_rng(0).normal(0, sigma, rgb.shape)
    return np.clip(rgb + noise, 0, 255).astype(np.uint8)


# What ordinary software does to a real photo on its way to someone: none of it is a manipulation.
BENIGN = {
    "original": lambda rgb: rgb,
    "reduced 0.25x": lambda rgb: resized(rgb, 0.25),
    "reduced 0.5x": lambda rgb: resized(rgb, 0.5),
    "enlarged 1.5x": lambda rgb: resized(rgb, 1.5),
    "enlarged 2x": lambda rgb: resized(rgb, 2.0),
    "enlarged 2.7x": lambda rgb: resized(rgb, 2.7),
    "turned 90 degrees": lambda rgb: np.ascontiguousarray(np.rot90(rgb, -1)),
    "turned 180 degrees": lambda rgb: np.ascontiguousarray(np.rot90(rgb, 2)),
    "JPEG quality 75": lambda rgb: jpeg(rgb, 75),
    "JPEG quality 40": lambda rgb: jpeg(rgb, 40),
    "H.264 CRF 28 (one frame)": lambda rgb: h264(rgb, 28),
    "Gaussian blur 1 px": lambda rgb: np.asarray(Image.fromarray(rgb).filter(ImageFilter.GaussianBlur(1.0))),
    "unsharp mask": lambda rgb: np.asarray(Image.fromarray(rgb).filter(ImageFilter.UnsharpMask(2, 120, 2))),
    "contrast 1.3": lambda rgb: np.asarray(ImageEnhance.Contrast(Image.fromarray(rgb)).enhance(1.3)),
    "noise sigma 4": lambda rgb: _noisy(rgb, 4.0),
}


def bench_benign(analyzer: Analyzer, samples: list[tuple[str, np.ndarray, int]]) -> list[str]:
    """Real photos after ordinary processing must not read as manipulated, and fakes must still stand out."""
    reals = sum(1 for _, _, y in samples if not y)
    out = [
        f"Ordinary processing, applied to every 'calib' + 'test' still ({reals} real, {len(samples) - reals} fake); "
        "'enlarged' is reduced and enlarged back to size (bicubic).",
        "",
        "| processing | real: mean effnet-lite0-probe | real: mean ensemble | real: flagged (ensemble >= threshold) "
        "| fake: mean ensemble | ensemble AUC |",
        "|---|---|---|---|---|---|",
    ]
    for label, process in BENIGN.items():
        rows = score_samples(analyzer, [(name, process(rgb), y) for name, rgb, y in samples])
        real = [(ran, fused) for _, y, ran, fused in rows if not y]
        fake = [fused for _, y, _, fused in rows if y]
        probe = np.mean([ran["effnet-lite0-probe"] for ran, _ in real if "effnet-lite0-probe" in ran])
        flagged = sum(fused >= analyzer.ensemble.threshold for _, fused in real)
        auc = roc_auc([y for _, y, _, _ in rows], [fused for _, _, _, fused in rows])
        out.append(
            f"| {label} | {probe:.3f} | {np.mean([f for _, f in real]):.3f} | {flagged}/{len(real)} | {np.mean(fake):.3f} | {auc:.3f} |"
        )
    return out


# ---------------------------------------------------------------- throughput


def bench_throughput(analyzer: Analyzer, paths: list[Path], repeats: int) -> list[str]:
    tile_sizes = analyzer.tile_sizes()
    analyzer.analyze_files(paths[:2], workers=0)  # warm-up: lazy inits, allocator
    e2e = []
    for _ in range(repeats):
        started = time.perf_counter()
        analyzer.analyze_files(paths)
        e2e.append(time.perf_counter() - started)
    # Same inputs, models only: tiles and face crops prepared beforehand.
    from detect.scoring import FACE_MARGIN
    from detect.stills import decode_image

    prepared = []
    for path in paths:
        decoded = decode_image(path, tile_sizes)
        faces = analyzer.set.find_faces(Image.fromarray(decoded.rgb)) if analyzer.set.find_faces else []
        crops = {}
        for detector in analyzer.set.face:
            if faces and not hasattr(detector, "score_faces"):
                size = detector.card.input_size[0]
                crops[detector.card.name] = torch.stack(
                    [torch.from_numpy(np.asarray(f.crop(size, margin=FACE_MARGIN)).copy()).permute(2, 0, 1).float() / 255 for f in faces]
                )
        prepared.append((decoded.tiles, crops))
    forward = []
    for _ in range(repeats):
        started = time.perf_counter()
        for tile_map, crops in prepared:
            for detector in analyzer.set.image:
                analyzer.set.run(detector, tile_map[detector.card.input_size[0]])
            for detector in analyzer.set.face:
                if detector.card.name in crops:
                    analyzer.set.run(detector, crops[detector.card.name])
        if analyzer.set.device.type == "cuda":
            torch.cuda.synchronize()
        forward.append(time.perf_counter() - started)
    n = len(paths)
    e2e_rate, fwd_rate = n / min(e2e), n / min(forward)
    from detect.batch import default_workers

    workers = default_workers(n, analyzer.set.device)  # what analyze_files chose (none on CPUs under 4 cores)
    where = f"in {workers} worker processes" if workers else "in-process, the next still decoded in a thread while MTCNN runs"
    return [
        "## Throughput",
        "",
        f"{n} corpus stills (all of images/), best of {repeats} runs, device `{analyzer.set.device}`, "
        f"{torch.get_num_threads()} torch threads for the models (MTCNN on 1), load average {os.getloadavg()[0]:.1f} at the end.",
        "",
        "| measure | files/s |",
        "|---|---|",
        f"| end to end (decode and tiles {where}, MTCNN faces, all detectors, fusion) | {e2e_rate:.2f} |",
        f"| model forward only (same tiles and crops, same detectors) | {fwd_rate:.2f} |",
        f"| ratio end-to-end / forward-only | {e2e_rate / fwd_rate:.2f} |",
        "",
    ]


# ---------------------------------------------------------------- robustness


class ImageEnsemble(torch.nn.Module):
    """The differentiable whole-image part of the ensemble on one 256x256 view."""

    def __init__(self, analyzer: Analyzer):
        super().__init__()
        self.detectors = analyzer.set.image
        self.config = analyzer.ensemble

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """(N, 3, 256, 256) -> (N,) fused logits of 'manipulated'."""
        z = torch.full((images.shape[0],), self.config.bias)
        for detector in self.detectors:
            size = detector.card.input_size[0]
            offset = (images.shape[-1] - size) // 2
            view = images[..., offset : offset + size, offset : offset + size]
            p = cast(torch.nn.Module, detector)(view).clamp(1e-6, 1 - 1e-6)  # the differentiable forward
            cal = self.config.calibrations.get(detector.card.name)
            slope, intercept = (cal.slope, cal.intercept) if cal else (1.0, 0.0)
            weight = self.config.weights.get(detector.card.name, self.config.default_weight)
            z = z + weight * (slope * torch.log(p / (1 - p)) + intercept)
        return z


def pgd(model: ImageEnsemble, images: torch.Tensor, eps: float, steps: int) -> torch.Tensor:
    """L-inf PGD lowering the fused logit (make fakes look authentic)."""
    step = eps / 4
    adv = (images + torch.empty_like(images).uniform_(-eps, eps)).clamp(0, 1)
    for _ in range(steps):
        adv.requires_grad_(True)
        loss = model(adv).sum()
        (grad,) = torch.autograd.grad(loss, adv)
        adv = adv.detach() - step * grad.sign()
        adv = (images + (adv - images).clamp(-eps, eps)).clamp(0, 1)
    return adv.detach()


def randomized(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Defence: random down-scale (0.75-0.95) and back, random shift, small noise."""
    size = images.shape[-1]
    scale = float(torch.empty(1).uniform_(0.75, 0.95, generator=generator))
    small = F.interpolate(images, size=int(size * scale), mode="bilinear", antialias=True, align_corners=False)
    restored = F.interpolate(small, size=size, mode="bilinear", align_corners=False)
    shift = torch.randint(-4, 5, (2,), generator=generator).tolist()
    restored = torch.roll(restored, shifts=shift, dims=(-2, -1))
    return (restored + 0.01 * torch.randn(restored.shape, generator=generator)).clamp(0, 1)


def flagged_fakes(model: ImageEnsemble, threshold_logit: float, limit: int) -> tuple[torch.Tensor, int, int]:
    """256x256 centre views of the test+calib corpus fakes the image ensemble flags (bench_detect and bench_attack)."""
    views = []
    for split in ("test", "calib"):
        for _name, rgb, label in corpus_samples(split):
            if label == 1 and min(rgb.shape[:2]) >= 256:
                views.append(tiles(rgb, 256, 1)[0])
    batch = torch.stack(views)
    with torch.no_grad():
        detected = model(batch) >= threshold_logit
    return batch[detected][:limit], int(detected.sum()), len(detected)


def bench_pgd(analyzer: Analyzer, steps: int, limit: int, draws: int) -> list[str]:
    model = ImageEnsemble(analyzer).eval()
    threshold_logit = float(np.log(analyzer.ensemble.threshold / (1 - analyzer.ensemble.threshold)))
    batch, n_flagged, n_views = flagged_fakes(model, threshold_logit, limit)
    lines = ["## Robustness: white-box PGD against the ensemble", ""]
    if len(batch) == 0:
        return lines + ["No corpus fake is flagged by the image ensemble at 256x256; nothing to attack.", ""]
    generator = torch.Generator().manual_seed(0)
    with torch.no_grad():
        clean_def = np.mean([(model(randomized(batch, generator)) >= threshold_logit).float().mean().item() for _ in range(draws)])
    lines += [
        f"{len(batch)} corpus fakes (256x256 centre views, test+calib splits) flagged by the whole-image ensemble "
        f"({n_flagged}/{n_views} flagged); PGD {steps} steps, step eps/4, random start; "
        f"defence averaged over {draws} random draws. Detection of the clean fakes with the defence on: {clean_def:.2f}.",
        "",
        "| eps | attack success, no defence | attack success, randomized preprocessing (attack unaware) |",
        "|---|---|---|",
    ]
    for eps in (2 / 255, 8 / 255):
        adv = pgd(model, batch, eps, steps)
        with torch.no_grad():
            plain = (model(adv) < threshold_logit).float().mean().item()
            defended = np.mean([(model(randomized(adv, generator)) < threshold_logit).float().mean().item() for _ in range(draws)])
        lines.append(f"| {round(eps * 255)}/255 | {plain:.2f} | {defended:.2f} |")
    return lines + [""]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench/results/detect.md")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--pgd-steps", type=int, default=10)
    parser.add_argument("--pgd-limit", type=int, default=24)
    parser.add_argument("--draws", type=int, default=4)
    parser.add_argument("--skip", nargs="*", default=[], choices=["quality", "throughput", "pgd"])
    parser.add_argument("--only", choices=["quality", "throughput", "pgd"], help="run this part alone")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's, one per core)")
    args = parser.parse_args()
    if args.only:
        args.skip = [part for part in ("quality", "throughput", "pgd") if part != args.only]
    if args.threads:
        torch.set_num_threads(args.threads)
    if not (CORPUS / "labels.csv").exists():
        print("error: ../shared/corpus is absent; the detector benchmarks need it", file=sys.stderr)
        return 1
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as home:
        os.environ["PROVENANCE_HOME"] = home  # never read the user's added models
        analyzer = Analyzer()
        command = command_line(__file__)
        sections = [
            "# Detectors (detect/)",
            "",
            f"Command: `{command}`  ",
            f"Machine: {platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__} "
            f"({torch.get_num_threads()} intra-op threads), device {analyzer.set.device}, load average at start {os.getloadavg()[0]:.1f}.",
            "",
        ]
        if "quality" not in args.skip:
            sections += bench_quality(analyzer)
        if "throughput" not in args.skip:
            paths = [item.path for item in corpus_images()]
            sections += bench_throughput(analyzer, paths, args.repeats)
        if "pgd" not in args.skip:
            sections += bench_pgd(analyzer, args.pgd_steps, args.pgd_limit, args.draws)
    publish("\n".join(sections) + "\n", args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
