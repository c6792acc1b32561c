"""`python -m detect.train {probe,spectral,face,ensemble}`: train or fit, write into detect/weights/."""

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
    ens = sub.add_parser("ensemble", help="calibrate detectors and fit the fusion on the corpus 'calib' split")
    ens.add_argument("--out", type=Path, default=WEIGHTS / "ensemble.json")
    args = parser.parse_args(argv)
    if args.what == "probe" and args.bag < 1:
        parser.error("--bag must be at least 1")

    try:
        if args.what == "probe":
            from detect.train.fit_probe import fit_probe

            digest = fit_probe(_pools(args), args.out, count=args.count, seed=args.seed, bag=args.bag, turns=args.turns)
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

            digest = fit_ensemble_file(args.out)
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {args.out} sha256 {digest}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
