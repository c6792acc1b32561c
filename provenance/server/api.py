"""The JSON API under /v1 and /healthz."""

from __future__ import annotations

import json

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from ..errors import ProvenanceError
from ..verify import Status, VerificationReport
from ..verify.checks import ContentMatch
from . import jobs
from .keys import KeyInfo, authenticate
from .uploads import Upload, UploadError, receive_upload

router = APIRouter()

_REPORT_EXAMPLE = {
    "file": "photo.jpg",
    "status": "verified",
    "summary": "...",
    "content_sha256": "...",
    "token_id": "0x...",
    "checks": [{"check": ContentMatch.name, "passed": True, "reason": "..."}],
    "candidates": [],
}
_VERIFY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {"type": "object", "required": ["file"], "properties": {"file": {"type": "string", "format": "binary"}}},
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "description": "verify the certified content by its hash: give `sha256` (hex) or `token` (decimal or 0x-hex)",
                    "properties": {"sha256": {"type": "string"}, "token": {"type": "string"}},
                },
            },
        },
    },
    "responses": {
        "200": {
            "description": "the report, as `provenance verify --json` gives it per file",
            "content": {"application/json": {"example": _REPORT_EXAMPLE}},
        },
        "413": {"description": "upload over the size limit"},
        "415": {"description": "not a supported image or video (or not multipart/JSON)"},
        "422": {"description": "a media file that cannot be decoded, or a bad request"},
        "429": {"description": "too many requests from this client"},
        "504": {"description": "took longer than the request timeout"},
    },
}
_CERTIFY_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "name": {"type": "string"},
                        "description": {"type": "string"},
                        "detect": {"type": "boolean", "default": True},
                    },
                },
            },
        },
    },
}


def _state(request: Request):
    return request.app.state


def media_error_status(report: VerificationReport) -> int | None:
    """415 / 422 for a file that is not media the service reads (the report the CLI would show), None otherwise."""
    if report.status is not Status.ERROR or report.content_sha256 is not None or report.checks:
        return None
    return 415 if "not a supported image or video" in report.summary else 422


async def take_upload(request: Request) -> Upload:
    st = _state(request)
    return await receive_upload(
        dict(request.headers),
        request.stream(),
        st.settings.home,
        st.options.max_upload_bytes,
        deadline_s=st.options.upload_timeout_s,
    )


@router.post("/v1/verify", openapi_extra=_VERIFY_BODY, summary="Verify a file, or certified content by its hash")
async def verify(request: Request, rescan: bool = Query(False, description="run the detectors again")) -> JSONResponse:
    st = _state(request)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/json"):
        token = await _json_token(request)
        report = await st.runner(lambda: st.service.verify_certified(token, rescan))
        return JSONResponse(report.to_dict())
    upload = await take_upload(request)
    try:
        report = await st.runner(lambda: st.service.verify_file(upload.path, upload.filename, None, rescan))
    finally:
        upload.discard()
    code = media_error_status(report)
    if code is not None:
        return JSONResponse({"error": report.summary, "report": report.to_dict()}, status_code=code)
    return JSONResponse(report.to_dict())


async def _json_token(request: Request) -> int:
    from ..tokens import parse_token

    body = await request.body()
    if len(body) > 4096:
        raise UploadError(413, "JSON body larger than 4 KiB")
    try:
        data = json.loads(body)
    except ValueError:
        raise UploadError(422, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise UploadError(422, "the JSON body must be an object with sha256 or token")
    if isinstance(data.get("sha256"), str):
        digest = data["sha256"].lower().removeprefix("0x")
        if len(digest) != 64 or any(ch not in "0123456789abcdef" for ch in digest):
            raise UploadError(422, "sha256 must be 64 hex digits")
        return int(digest, 16)
    if isinstance(data.get("token"), str):
        try:
            return parse_token(data["token"])
        except ProvenanceError as exc:
            raise UploadError(422, exc.user_message) from None
    raise UploadError(422, "the JSON body must name sha256 (hex) or token (decimal or 0x-hex)")


@router.get("/v1/certificates/{token}", summary="A certificate as the chain and its metadata say")
async def certificate(token: str, request: Request) -> JSONResponse:
    from ..tokens import parse_token

    st = _state(request)
    try:
        token_id = parse_token(token)
    except ProvenanceError as exc:
        raise UploadError(422, exc.user_message) from None
    return JSONResponse(await st.runner(lambda: st.service.certificate(token_id)))


def api_key(request: Request, authorization: str | None = Header(None)) -> KeyInfo:
    """The caller's API key from `Authorization: Bearer <key>`: 401 without one, 403 for a wrong or revoked one."""
    if not authorization:
        raise UploadError(401, "this call needs an API key: Authorization: Bearer <key> (create one with `provenance apikeys create`)")
    scheme, _, key = authorization.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise UploadError(401, "send the API key as Authorization: Bearer <key>")
    info = authenticate(_state(request).service.parts.ledger, key.strip())
    if info is None:
        raise UploadError(403, "unknown or revoked API key")
    return info


@router.post("/v1/certify", openapi_extra=_CERTIFY_BODY, status_code=202, summary="Queue a file to be certified (API key)")
async def certify(request: Request, key: KeyInfo = Depends(api_key)) -> JSONResponse:
    from ..media import MediaError, load_media

    st = _state(request)
    upload = await take_upload(request)
    try:
        await st.runner(lambda: load_media(upload.path))  # refuse what mint would refuse, now rather than in the job
    except MediaError as exc:
        upload.discard()
        message = str(exc).replace(str(upload.path), upload.filename)
        raise UploadError(415 if "not a supported image or video" in message else 422, message) from None
    request_fields = {
        "name": upload.fields.get("name") or None,
        "description": upload.fields.get("description", ""),
        "detect": upload.fields.get("detect", "true").lower() not in ("false", "0", "no", "off"),
    }
    job = jobs.enqueue(st.service.parts.ledger, key.id, str(upload.path), upload.filename, request_fields)
    if st.worker is not None:
        st.worker.wake()
    return JSONResponse({"job_id": job.id, "state": job.state, "status_url": f"/v1/jobs/{job.id}"}, status_code=202)


@router.get("/v1/jobs/{job_id}", summary="A certify job's state and result (API key)")
async def job(job_id: int, request: Request, key: KeyInfo = Depends(api_key)) -> JSONResponse:
    view = jobs.get(_state(request).service.parts.ledger, job_id)
    if view is None or view.api_key_id != key.id:  # another key's jobs are not this caller's business
        raise UploadError(404, f"no job {job_id} for this API key")
    return JSONResponse(view.to_dict())


@router.get("/healthz", summary="Whether the chain, the content store and the database answer")
async def healthz(request: Request) -> JSONResponse:
    st = _state(request)
    result = await st.runner(st.service.health)
    return JSONResponse(result, status_code=200 if result["ok"] else 503)
