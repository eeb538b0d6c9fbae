"""The portal's static files: fingerprinted (a content hash in the URL), cached for a year, compressed.

``portal_asset("portal.css")`` → ``/<tenant>/portail/a/<hash>/portal.css``. The hash changes with the file's
content, so the file can be cached ``immutable`` for a year; a URL with a stale hash still answers (a page
cached before a deployment) but is not cached. htmx comes from its PyPI package (django-js-lib-htmx), like
the staff site's. The two files are compressed once (brotli 11 or gzip 9, as the browser accepts); pages are
compressed on the fly by flask-compress (zstd, brotli or gzip), on the portal's blueprints only.
"""

from __future__ import annotations

import gzip
import hashlib
from functools import cache
from pathlib import Path

import brotli
from flask import Flask, abort, request
from flask_compress import Compress
from werkzeug.wrappers import Response

from app.web.views import HTMX_DIR

__all__ = ["HTMX_DIR", "fingerprint", "serve", "install", "compress"]

FILES = {
    "portal.css": Path(__file__).parent / "static" / "portal.css",
    "htmx.min.js": HTMX_DIR / "htmx.min.js",
}
IMMUTABLE = "public, max-age=31536000, immutable"
compress = Compress()


@cache
def fingerprint(name: str) -> str:
    """The first 12 hex digits of the file's SHA-256 (computed once per process)."""
    return hashlib.sha256(FILES[name].read_bytes()).hexdigest()[:12]


@cache
def _encoded(name: str, encoding: str) -> bytes:
    """The file compressed once per process, at the strongest level (assets are cached for a year)."""
    data = FILES[name].read_bytes()
    if encoding == "br":
        return brotli.compress(data, quality=11)
    if encoding == "gzip":
        return gzip.compress(data, compresslevel=9, mtime=0)
    return data


def _encoding() -> str:
    accepted = request.accept_encodings
    return "br" if accepted["br"] else "gzip" if accepted["gzip"] else "identity"


def serve(digest: str, name: str) -> Response:
    if name not in FILES:
        abort(404)
    encoding = _encoding()
    mimetype = "text/css" if name.endswith(".css") else "text/javascript"
    response = Response(_encoded(name, encoding), mimetype=mimetype)
    if encoding != "identity":
        response.headers["Content-Encoding"] = encoding  # flask-compress leaves an encoded body alone
    response.vary.add("Accept-Encoding")
    response.set_etag(f"{fingerprint(name)}-{encoding}")
    response.headers["Cache-Control"] = IMMUTABLE if digest == fingerprint(name) else "no-cache"
    return response.make_conditional(request)


def install(app: Flask) -> None:
    """Compress the responses of the portal's blueprints (``portal`` and ``portal_*``) only: the staff site
    is left as it is. flask-compress's own global hook is not registered."""
    register = app.config.get("COMPRESS_REGISTER", True)
    app.config["COMPRESS_REGISTER"] = False
    compress.init_app(app)
    app.config["COMPRESS_REGISTER"] = register

    @app.after_request
    def compress_portal(response: Response) -> Response:
        blueprint = request.blueprint or ""
        if blueprint == "portal" or blueprint.startswith("portal_"):
            return compress.after_request(response)
        return response
