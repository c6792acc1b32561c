"""A detected face and the aligned crops the face detectors score."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

# Landmark rows, in MTCNN's order. "Left" is the left of the picture.
LEFT_EYE, RIGHT_EYE, NOSE, MOUTH_LEFT, MOUTH_RIGHT = range(5)


@dataclass(frozen=True)
class Face:
    box: tuple[float, float, float, float]  # x1, y1, x2, y2 in pixels of `image`
    landmarks: tuple[tuple[float, float], ...]  # 5 (x, y): left eye, right eye, nose, mouth left, mouth right
    confidence: float
    image: Image.Image = field(repr=False, compare=False)

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def height(self) -> float:
        return self.box[3] - self.box[1]

    @property
    def centre(self) -> tuple[float, float]:
        return ((self.box[0] + self.box[2]) / 2, (self.box[1] + self.box[3]) / 2)

    @property
    def eye_distance(self) -> float:
        (lx, ly), (rx, ry) = self.landmarks[LEFT_EYE], self.landmarks[RIGHT_EYE]
        return math.hypot(rx - lx, ry - ly)

    @property
    def roll(self) -> float:
        """Angle of the eye line in radians (0: eyes level)."""
        (lx, ly), (rx, ry) = self.landmarks[LEFT_EYE], self.landmarks[RIGHT_EYE]
        return math.atan2(ry - ly, rx - lx)

    def crop_transform(self, size: int, margin: float, align: bool = True) -> np.ndarray:
        """The 2x3 matrix taking crop pixels (u, v, 1) to image pixels (x, y).

        The crop is a square of side `max(w, h) * (1 + margin)` around the box
        centre, rotated so the eyes are level when `align` is set.
        """
        side = max(self.width, self.height) * (1.0 + margin)
        scale = side / size
        angle = self.roll if align else 0.0
        cos, sin = math.cos(angle) * scale, math.sin(angle) * scale
        cx, cy = self.centre
        half = size / 2
        return np.array(
            [[cos, -sin, cx - cos * half + sin * half], [sin, cos, cy - sin * half - cos * half]],
            dtype=np.float64,
        )

    def crop(self, size: int, margin: float = 0.3, align: bool = True) -> Image.Image:
        """An RGB size x size crop of the face, eyes level, `margin` of the box added around it.

        Only the part of the image under the crop is read (and, for faces much
        larger than the crop, area-shrunk first): the same pixels as shrinking
        and warping the whole image, at a cost that does not grow with it.
        """
        matrix = self.crop_transform(size, margin, align)
        source = self.image if self.image.mode == "RGB" else self.image.convert("RGB")
        scale = math.hypot(matrix[0, 0], matrix[1, 0])
        fx = fy = 1.0
        grid = source.size
        if scale > 1.5:
            # Shrink first with an area filter: a bilinear affine alone would alias.
            grid = (max(1, round(source.width / scale)), max(1, round(source.height / scale)))
            fx, fy = source.width / grid[0], source.height / grid[1]
            matrix = matrix / np.array([[fx], [fy]])
        # The crop's corners in the (shrunk) image, plus a pixel for the bilinear filter's reach.
        corners = matrix @ np.array([[0, size, 0, size], [0, 0, size, size], [1, 1, 1, 1]], dtype=np.float64)
        x0 = int(np.clip(math.floor(corners[0].min()) - 4, 0, grid[0]))
        y0 = int(np.clip(math.floor(corners[1].min()) - 4, 0, grid[1]))
        x1 = int(np.clip(math.ceil(corners[0].max()) + 4, x0, grid[0]))
        y1 = int(np.clip(math.ceil(corners[1].max()) + 4, y0, grid[1]))
        if x1 <= x0 or y1 <= y0:
            return Image.new("RGB", (size, size))
        if scale > 1.5:
            region = source.resize((x1 - x0, y1 - y0), Image.Resampling.BOX, box=(x0 * fx, y0 * fy, x1 * fx, y1 * fy))
        else:
            region = source.crop((x0, y0, x1, y1))
        matrix = matrix - np.array([[0.0, 0.0, x0], [0.0, 0.0, y0]])
        coeffs = tuple(matrix.reshape(-1).tolist())
        return region.transform((size, size), Image.Transform.AFFINE, coeffs, resample=Image.Resampling.BILINEAR)

    def landmarks_in_crop(self, size: int, margin: float = 0.3, align: bool = True) -> np.ndarray:
        """(5, 2) landmark positions in the pixels of `crop(size, margin, align)`."""
        matrix = self.crop_transform(size, margin, align)
        forward = np.linalg.inv(np.vstack([matrix, [0.0, 0.0, 1.0]]))[:2]
        points = np.hstack([np.asarray(self.landmarks, dtype=np.float64), np.ones((5, 1))])
        return points @ forward.T
