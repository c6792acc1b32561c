"""The web page: `/` shows the upload form, `POST /report` the report for the uploaded file."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from .api import media_error_status, take_upload
from .render import build_view, render_page
from .uploads import UploadError, human_size

router = APIRouter(include_in_schema=False)

# The page loads nothing from elsewhere: its own CSS and script, pictures as data URIs. Bars are
# sized with style attributes, the only inline styling allowed.
HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; style-src-attr 'unsafe-inline'; "
    "script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@router.get("/")
async def index(request: Request) -> HTMLResponse:
    st = request.app.state
    return HTMLResponse(
        render_page(st.templates, [], standalone=False, max_upload=human_size(st.options.max_upload_bytes)), headers=HEADERS
    )


@router.post("/report")
async def report(request: Request) -> HTMLResponse:
    st = request.app.state
    limit = human_size(st.options.max_upload_bytes)
    try:
        upload = await take_upload(request)
    except UploadError as exc:
        page = render_page(st.templates, [], standalone=False, error=exc.message, max_upload=limit)
        return HTMLResponse(page, status_code=exc.status, headers=HEADERS)
    rescan = upload.fields.get("rescan", "").lower() in ("true", "1", "on")
    try:

        def work():
            result = st.service.verify_file(upload.path, upload.filename, None, rescan)
            return result, build_view(result, upload.path, st.service)

        result, view = await st.runner(work)
    finally:
        upload.discard()
    html = render_page(st.templates, [view], standalone=False, max_upload=limit)
    return HTMLResponse(html, status_code=media_error_status(result) or 200, headers=HEADERS)
