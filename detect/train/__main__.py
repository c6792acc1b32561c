"""`python -m detect.train {data,probe,spectral,face,ensemble,...}`: build the data set, train or fit, write into detect/weights/."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from detect.train.sources import package_photos

WEIGHTS = Path(__file__).resolve().parents[1] / "weights"


def _pools(args):
    from detect.train.dataset import ImagePools

    real = [Path(p) for p in args.real] or package_photos()
    fake = [Path(p) for p in args.fake]
    return ImagePools.load(real, fake, corpus_split=None if args.no_corpus else "train")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m detect.train", description=__doc__)
    sub = parser.add_subparsers(dest="what", required=True)
    for name in ("probe", "spectral"):
        p = sub.add_parser(name)
        p.add_argument("--real", nargs="*", default=[], help="real photos (default: Debian package photos)")
        p.add_argument("--fake", nargs="*", default=[], help="extra generator output to mix in")
        p.add_argument("--no-corpus", action="store_true", help="do not mix in the corpus 'train' split")
        p.add_argument("--seed", type=int, default=0)
    sub.choices["probe"].add_argument("--count", type=int, default=2400, help="training tiles per draw")
    sub.choices["probe"].add_argument("--bag", type=int, default=1, help="draws (seeds) whose heads are averaged")
    sub.choices["probe"].add_argument("--turns", action="store_true", help="features averaged over four quarter turns")
    sub.choices["probe"].add_argument("--out", type=Path, default=WEIGHTS / "effnet_probe_head.pt")
    sub.choices["spectral"].add_argument("--count", type=int, default=4000)
    sub.choices["spectral"].add_argument("--out", type=Path, default=WEIGHTS / "spectral.json")
    face = sub.add_parser("face", help="the face-level probe: real faces vs landmark self-blends")
    face.add_argument("--real", nargs="*", default=[], help="extra real photos with faces")
    face.add_argument("--no-corpus", action="store_true", help="do not use the corpus 'train' split's faces")
    face.add_argument("--count", type=int, default=2400)
    face.add_argument("--seed", type=int, default=0)
    face.add_argument("--out", type=Path, default=WEIGHTS / "effnet_face_head.pt")
    data = sub.add_parser("data", help="build the train/calib/dev set from the sources manifest (detect/train/sources.json)")
    data.add_argument("out", type=Path, help="dataset folder (kept out of git)")
    data.add_argument("--mirror", type=Path, help="local mirrors: ROOT/<owner>+<name>/repo")
    data.add_argument("--git-base", default="https://github.com", help="where to clone from without --mirror")
    data.add_argument("--cache", type=Path, help="clone cache (default OUT/.git-cache)")
    data.add_argument("--manifest", type=Path, help="another sources manifest")
    data.add_argument("--only", nargs="*", default=[], help="build only these sources (an existing index keeps its other sources)")
    art = sub.add_parser("artifact", help="train an artifact CNN from scratch on a built data set's 'train' split")
    art.add_argument("data", type=Path, help="a folder built by `python -m detect.train data`")
    art.add_argument("--kind", choices=("image", "face"), default="image")
    art.add_argument("--steps", type=int, default=None, help="training steps of 64 tiles (default: image 4500, face 5000)")
    art.add_argument("--seed", type=int, default=0)
    art.add_argument("--out", type=Path, default=None)
    art.add_argument("--h264-views", type=int, default=0, help="face: extra H.264 copies stored per crop (both labels)")
    art.add_argument("--crf", default="18-45", help="face: CRF range of those copies, LOW-HIGH")
    art.add_argument("--exclude-family", nargs="+", default=[], help="families left out of training (leave-one-family-out folds)")
    art.add_argument(
        "--framing",
        choices=("crop", "aligned"),
        default="crop",
        help="face: the stored crop resized, or the face found and aligned as at inference",
    )
    art.add_argument(
        "--resynth",
        type=float,
        default=0.0,
        help="image: share of fake picks replaced by a real crop grown back by a random up-sampler (0-1)",
    )
    art.add_argument(
        "--sbi",
        type=float,
        default=0.0,
        help="face, with --framing aligned: share of fake picks replaced by a self-blended real face (0-1)",
    )
    vid = sub.add_parser("video-ensemble", help="fit the rule for videos with faces on compressed 'calib' face crops")
    vid.add_argument("--data", type=Path, required=True, help="a built data set (its 'calib' face crops)")
    vid.add_argument("--out", type=Path, default=WEIGHTS / "ensemble.json", help="the ensemble file whose 'video' section is written")
    ens = sub.add_parser("ensemble", help="calibrate detectors and fit the fusion on a 'calib' split")
    ens.add_argument("--out", type=Path, default=WEIGHTS / "ensemble.json")
    ens.add_argument("--data", type=Path, default=None, help="a built data set: fit on its 'calib' split (default: the corpus)")
    ens.add_argument("--per-source", type=int, default=0, help="with --data: at most N calib files per source and label (0: all)")
    args = parser.parse_args(argv)
    if args.what == "probe" and args.bag < 1:
        parser.error("--bag must be at least 1")

    if args.what == "data":
        return _data(args)
    if args.what == "artifact" and args.steps is not None and args.steps < 1:
        parser.error("--steps must be at least 1")
    try:
        if args.what == "probe":
            from detect.train.fit_probe import fit_probe

            digest = fit_probe(_pools(args), args.out, count=args.count, seed=args.seed, bag=args.bag, turns=args.turns)
        elif args.what == "artifact":
            from detect.models.artifact import KINDS
            from detect.train.data import DataError
            from detect.train.fit_artifact import Recipe, train

            steps = args.steps or (4500 if args.kind == "image" else 5000)
            args.out = args.out or KINDS[args.kind][2]
            crf_min, crf_max = _crf_range(parser, args.crf)
            if args.h264_views < 0:
                parser.error("--h264-views must not be negative")
            for flag, share in (("--resynth", args.resynth), ("--sbi", args.sbi)):
                if not 0.0 <= share <= 1.0:
                    parser.error(f"{flag} must be between 0 and 1")
            if args.sbi and (args.kind != "face" or args.framing != "aligned"):
                parser.error("--sbi needs --kind face --framing aligned (self-blends are made on the landmarks of aligned crops)")
            if args.resynth and args.kind != "image":
                parser.error("--resynth is for --kind image")
            recipe = Recipe(
                kind=args.kind,
                steps=steps,
                seed=args.seed,
                h264_views=args.h264_views,
                crf_min=crf_min,
                crf_max=crf_max,
                framing=args.framing,
                exclude_families=tuple(args.exclude_family),
                resynth=args.resynth,
                sbi=args.sbi,
            )
            try:
                digest = train(args.data, args.out, recipe)
            except DataError as exc:
                raise ValueError(str(exc)) from None
        elif args.what == "video-ensemble":
            from detect.train.fit_video import fit_video_file

            digest = fit_video_file(args.data, args.out)
        elif args.what == "spectral":
            from detect.train.fit_spectral import fit_spectral

            digest = fit_spectral(_pools(args), args.out, count=args.count, seed=args.seed)
        elif args.what == "face":
            from detect.train.face_data import FacePools
            from detect.train.fit_face import fit_face_probe

            pools = FacePools.load([Path(p) for p in args.real], corpus_split=None if args.no_corpus else "train")
            digest = fit_face_probe(pools, args.out, count=args.count, seed=args.seed)
        else:
            from detect.train.fit_ensemble import fit_ensemble_file

            digest = fit_ensemble_file(args.out, data=args.data, per_source=args.per_source)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} sha256 {digest}")
    return 0


def _data(args) -> int:
    from detect.train.data import MANIFEST, DataError, build, clone_git_dir, load_manifest, mirror_git_dir, summary

    try:
        sources = load_manifest(args.manifest or MANIFEST)
        if args.only:
            unknown = sorted(set(args.only) - {s.name for s in sources})
            if unknown:
                raise DataError(f"no such source: {', '.join(unknown)}")
            sources = [s for s in sources if s.name in args.only]
        cache = args.cache or args.out / ".git-cache"

        def git_dir_for(source):
            if args.mirror:
                return mirror_git_dir(args.mirror, source.repo)
            return clone_git_dir(cache, source.repo, source.commit, args.git_base)

        def progress(name, done, total):
            if done == total or done % 500 == 0:
                print(f"{name}: {done}/{total}", file=sys.stderr)

        items = build(args.out, sources, git_dir_for, progress, merge=bool(args.only))
    except DataError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(summary(items))
    print(f"wrote {len(items)} files and {args.out / 'index.csv'}")
    return 0


def _crf_range(parser: argparse.ArgumentParser, text: str) -> tuple[int, int]:
    """--crf LOW-HIGH, within H.264's 0-51."""
    try:
        low, high = (int(x) for x in text.split("-"))
    except ValueError:
        parser.error("--crf takes LOW-HIGH, e.g. 18-45")
    if not 0 <= low <= high <= 51:
        parser.error("--crf must lie within 0-51, LOW <= HIGH")
    return low, high


if __name__ == "__main__":
    raise SystemExit(main())
