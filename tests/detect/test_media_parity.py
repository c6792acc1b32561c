"""`mint` scores the picture provenance.media decoded once; `provenance detect` decodes the file itself.

Both must give a still the same verdict (issue 19: the file is read once, the
verdict is unchanged): the decoded picture keeps what the detectors read
(mode and alpha, EXIF orientation, 16-bit grey, the JPEG tables).
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from detect.analyze import Analyzer
from provenance.media import load_media
from tests.detect.ens_helpers import textured_image


@pytest.fixture(scope="module")
def analyzer() -> Analyzer:
    return Analyzer()


def _stills(folder):
    base = textured_image(7, 256).crop((0, 0, 256, 192))
    rgba = base.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(base.size))
    turned = folder / "turned.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: a viewer turns it 90 degrees
    base.save(turned, quality=90, exif=exif)
    grey16 = Image.fromarray((np.asarray(base.convert("L"), dtype=np.uint16) * 257).astype(np.uint16))
    made = {
        "plain.png": lambda p: base.save(p),
        "alpha.png": lambda p: rgba.save(p),
        "palette.gif": lambda p: base.convert("P").save(p),
        "grey16.tif": lambda p: grey16.save(p),
        "crushed.jpg": lambda p: base.save(p, quality=20),
        "lossy.webp": lambda p: base.save(p, quality=70),
    }
    paths = [turned]
    for name, save in made.items():
        save(folder / name)
        paths.append(folder / name)
    return paths


def test_mint_and_detect_give_a_still_the_same_verdict(analyzer, tmp_path):
    for path in _stills(tmp_path):
        from_file = analyzer.analyze_file(path)  # `provenance detect`
        media = load_media(path)
        from_media = analyzer.analyze_image(media.sample[0].decoded)  # what provenance.scanning hands over for a still
        assert from_media == from_file, path.name
