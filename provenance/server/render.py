"""The verification report as HTML: the web page's result and `provenance verify --html` share this.

A `ReportView` is what the template shows, built from a `VerificationReport`
plus what only a page needs: thumbnails of the received file (and, for a
modified copy, of the certified one from the store) as data URIs, and the
detector verdict per detector from the certificate's signed metadata (or from
a rescan). Nothing here knows about HTTP.
"""

from __future__ import annotations

import base64
import io
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

from jinja2 import Environment, FileSystemLoader, select_autoescape

from ..face_boxes import DrawnBox, drawn, turned, upright_size
from ..verify import Status, VerificationReport

if TYPE_CHECKING:
    from ..context import Parts
    from ..media import MediaFile
    from .service import VerificationService

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
THUMB_PX = 480
# The certified media is fetched for the side-by-side view only up to this size.
MAX_CERTIFIED_PREVIEW_BYTES = 64 * 1024**2
GATEWAY = "https://ipfs.io/ipfs/"

MEANINGS = {
    Status.VERIFIED: "This file is byte for byte the certified content, and the chain, the signed metadata and the issuer's signature agree.",
    Status.MODIFIED: "This file looks like certified content but is not the same bytes: it was re-encoded, resized, cropped or edited. "
    "The certificate speaks for the original, not for this copy.",
    Status.NOT_FOUND: "No certificate covers this file, neither by its exact content nor by a perceptual match. That says nothing "
    "about whether it is genuine: it was never certified here.",
    Status.REVOKED: "A certificate for this content exists but was revoked by its issuer or the registry admin. Do not rely on it.",
    Status.TAMPERED: "The chain, the metadata and the content disagree. Someone changed the record: do not trust this certificate.",
    Status.UNTRUSTED_ISSUER: "A certificate exists, but it was issued by an account this verifier does not trust.",
    Status.ERROR: "The file or a service needed to check it could not be read, so nothing can be said about it.",
}
TONE = {
    Status.VERIFIED: "good",
    Status.MODIFIED: "warn",
    Status.NOT_FOUND: "neutral",
    Status.REVOKED: "bad",
    Status.TAMPERED: "bad",
    Status.UNTRUSTED_ISSUER: "bad",
    Status.ERROR: "bad",
}


@dataclass
class DetectorBar:
    name: str
    score: float | None  # None: skipped
    reason: str = ""

    @property
    def percent(self) -> int:
        return round((self.score or 0.0) * 100)


@dataclass
class Detection:
    source: str  # "signed metadata" or "rescan"
    label: str
    score: float
    threshold: float
    faces: int
    detectors: list[DetectorBar]
    frames: list[int]
    notes: list[str]
    # Untrusted display data: the verdict's face boxes as stored (see provenance.face_boxes).
    face_boxes: list = field(default_factory=list)

    @property
    def percent(self) -> int:
        return round(self.score * 100)


@dataclass
class Thumb:
    uri: str
    caption: str
    # Faces the verdict shown found on this very picture, as shares of it (drawn over it at any size).
    boxes: list[DrawnBox] = field(default_factory=list)


@dataclass
class ReportView:
    report: dict
    status: str
    tone: str
    meaning: str
    received: Thumb | None = None
    certified: Thumb | None = None
    frames: list[Thumb] = field(default_factory=list)
    detection: Detection | None = None
    issued_iso: str | None = None
    metadata_cid: str | None = None
    media_cid: str | None = None
    # What the certificate's failed checks say about its revocation (their reasons name who and why).
    revocation: list[str] = field(default_factory=list)
    # The IPTC terms of a generative source the file's C2PA manifest declares (shown beside the detectors).
    declared_generative: list[str] = field(default_factory=list)

    def check_mark(self, check: dict) -> str:
        """pass, near or fail: a failure that means only "modified" is "near", as `verify` prints it."""
        if check.get("passed"):
            return "pass"
        return "near" if check.get("fails_as") == Status.MODIFIED.value else "fail"


def build_view(report: VerificationReport, received: Path | None, service: VerificationService | None) -> ReportView:
    """Everything the template shows about one verified file."""
    view = ReportView(
        report=report.to_dict(),
        status=report.status.value,
        tone=TONE[report.status],
        meaning=MEANINGS[report.status],
    )
    view.revocation = [c.reason for c in report.checks if not c.passed and c.fails_as is Status.REVOKED]
    if report.c2pa and report.c2pa.get("generative"):
        from ..c2pa.sources import is_generative, term

        view.declared_generative = [term(t) for t in report.c2pa.get("digital_source_types", []) if is_generative(t)]
    cert = report.certificate
    if cert is not None:
        view.issued_iso = _iso(cert["issued_at"])
    metadata = None
    # Fetched again only when verification read it intact (a missing block would only cost the fetch's deadline).
    if service is not None and cert is not None and cert.get("metadata_intact"):
        metadata = service.metadata(bytes.fromhex(cert["metadata_digest"]))
    if metadata is not None:
        view.metadata_cid, view.media_cid = metadata.cid, metadata.media_cid
    view.detection = _detection(report, metadata.detection if metadata is not None else None)
    media = _load(received) if received is not None else None
    sample = _sample(media)
    # Whose faces the boxes are: a rescan's are the received file's; signed ones are the certified
    # content's, so they go on the received picture only when it is that content byte for byte.
    certified_sha = (metadata.document.get("provenance", {}).get("content", {}).get("sha256") if metadata is not None else None) or ""
    on_received = view.detection is not None and (view.detection.source == "rescan" or certified_sha == report.content_sha256)
    if sample and media is not None:
        view.received = Thumb(_data_uri(sample[0][1]), "received", _boxes(view.detection, media, sample[0][0], on_received))
    if view.detection is not None and view.detection.frames and len(sample) > 1 and media is not None:
        wanted = set(view.detection.frames)
        view.frames = [
            Thumb(_data_uri(img, px=240), f"frame {index}", _boxes(view.detection, media, index, on_received))
            for index, img in sample
            if index in wanted
        ]
    if report.status is Status.MODIFIED and service is not None and view.media_cid:
        data = service.certified_media(view.media_cid, MAX_CERTIFIED_PREVIEW_BYTES)
        certified = _media_of_bytes(data) if data is not None else None
        if certified is not None:
            index, image = _sample(certified)[0]
            on_certified = view.detection is not None and view.detection.source == "signed metadata"
            view.certified = Thumb(_data_uri(image), "certified", _boxes(view.detection, certified, index, on_certified))
    return view


def _boxes(detection: Detection | None, media: MediaFile, index: int, belongs: bool) -> list[DrawnBox]:
    """The verdict's face boxes on one picture of `media` (frame `index`), when they are that picture's faces."""
    if detection is None or not belongs:
        return []
    return drawn(detection.face_boxes, upright_size(media), index if media.kind == "video" else None)


def _detection(report: VerificationReport, signed: dict | None) -> Detection | None:
    """The detector verdict to draw: a rescan's when one ran, else the one signed into the certificate."""
    # A rescan's check carries the fresh verdict as `now` (by its data, not its name).
    fresh = next((c.details["now"] for c in report.checks if isinstance(c.details.get("now"), dict)), None)
    source, data = ("rescan", fresh) if isinstance(fresh, dict) and "detectors" in fresh else ("signed metadata", signed)
    if not data or data.get("label") == "unscanned":
        return None
    bars = [
        DetectorBar(d["name"], None, d.get("reason", "skipped"))
        if d.get("skipped") or d.get("score") is None
        else DetectorBar(d["name"], float(d["score"]))
        for d in data.get("detectors", [])
    ]
    return Detection(
        source=source,
        label=str(data.get("label")),
        score=float(data.get("score", 0.0)),
        threshold=float(data.get("threshold", 0.0)),
        faces=int(data.get("faces", 0) or 0),
        detectors=bars,
        frames=[int(f) for f in data.get("frames", [])],
        notes=[str(n) for n in data.get("notes", [])],
        face_boxes=data["face_boxes"] if isinstance(data.get("face_boxes"), list) else [],
    )


def _load(path: Path) -> MediaFile | None:
    """The received file as media; None if it does not decode."""
    from ..media import MediaError, load_media

    try:
        return load_media(path)
    except MediaError:
        return None


def _sample(media: MediaFile | None) -> list[tuple[int, object]]:
    """The sampled frames (one for an image) as (frame index, picture shown): upright, as a viewer and the boxes have it."""
    if media is None:
        return []
    return [(f.index, _upright(f.decoded) if media.kind == "image" and turned(f.decoded) else f.image) for f in media.sample]


def _upright(picture):
    from PIL import ImageOps

    return ImageOps.exif_transpose(picture)


def _media_of_bytes(data: bytes) -> MediaFile | None:
    import tempfile

    with tempfile.NamedTemporaryFile(prefix="provenance-preview-") as tmp:
        tmp.write(data)
        tmp.flush()
        media = _load(Path(tmp.name))
        return media if media is not None and media.sample else None


def _data_uri(image, px: int = THUMB_PX) -> str:
    thumb = image.copy()
    thumb.thumbnail((px, px))
    buf = io.BytesIO()
    thumb.convert("RGB").save(buf, format="JPEG", quality=82)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


# ---- HTML -----------------------------------------------------------------
def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.globals["gateway"] = GATEWAY
    env.globals["iso_utc"] = _iso
    env.filters["source_term"] = _source_term
    return env


def _iso(seconds) -> str:
    return datetime.fromtimestamp(int(seconds), timezone.utc).isoformat().replace("+00:00", "Z")


def _source_term(source_type: str | None) -> str:
    from ..c2pa.sources import term

    return term(source_type) if source_type else ""


def render_page(env: Environment, views: list[ReportView], *, standalone: bool, error: str | None = None, max_upload: str = "") -> str:
    """The page: the upload form (served) or just the reports (standalone file, CSS inlined, no script)."""
    css = (STATIC / "style.css").read_text(encoding="utf-8") if standalone else None
    return env.get_template("page.html").render(views=views, standalone=standalone, css=css, error=error, max_upload=max_upload)


def write_html_report(reports: list[VerificationReport], files: list[Path], service: VerificationService | None, out: Path) -> None:
    """`provenance verify --html`: one self-contained file, images embedded as data URIs."""
    views = [build_view(r, f, service) for r, f in zip(reports, files)]
    out.write_text(render_page(environment(), views, standalone=True), encoding="utf-8")


def write_report_file(reports: list[VerificationReport], files: list[Path], parts: Parts, out: Path) -> None:
    """`provenance verify FILE... --html OUT` over the parts the command already opened."""
    from .service import VerificationService

    write_html_report(reports, files, VerificationService(parts.settings, parts), out)
