"""Static files: fingerprinted URLs, cached for a year, gzipped when the browser takes it.

Templates link a file with ``asset_url('css/app.css')``, which gives
``/static/css/app.<hash>.css`` (the first 12 hex digits of its SHA-256). That URL names one
content for ever, so it is served with ``Cache-Control: public, max-age=31536000, immutable``
and a second page load asks for nothing but the page. The plain URL (``/static/css/app.css``)
still works, with ``no-cache`` and an ETag, for links kept from elsewhere; so does an old
fingerprint after a deploy (the current content, ``no-cache``), so a page loaded just before
a restart still gets its stylesheet.

Text files are compressed once, in memory, the first time they are asked for (the static folder
is small and read-only in the container); a file is read again when its size or modification
time changes, so editing CSS in development needs no restart.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import os
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from flask import Flask, Response, abort, request, url_for
from werkzeug.security import safe_join

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
HASH_LENGTH = 12
COMPRESSIBLE = ("text/", "application/javascript", "application/json", "image/svg+xml")
# A fingerprint sits before the last extension: app.3f2a9c1b04de.css.
FINGERPRINTED = re.compile(r"^(?P<stem>.+)\.(?P<hash>[0-9a-f]{%d})(?P<ext>\.[A-Za-z0-9]+)$" % HASH_LENGTH)


@dataclass(frozen=True)
class Asset:
    key: tuple[int, int]  # (size, mtime_ns) when read
    digest: str
    mimetype: str
    body: bytes
    gzipped: bytes | None  # None: not worth compressing


class Assets:
    def __init__(self, folder: str):
        self.folder = folder
        self._files: dict[str, Asset] = {}
        self._lock = threading.Lock()

    def get(self, filename: str) -> Asset | None:
        path = safe_join(self.folder, filename)
        if path is None:
            return None
        try:
            stat = os.stat(path)
        except OSError:
            return None
        if not os.path.isfile(path):
            return None
        key = (stat.st_size, stat.st_mtime_ns)
        asset = self._files.get(filename)
        if asset is not None and asset.key == key:
            return asset
        with self._lock:
            asset = self._files.get(filename)
            if asset is None or asset.key != key:
                asset = _read(Path(path), key)
                self._files[filename] = asset
        return asset

    def url_name(self, filename: str) -> str:
        """``css/app.css`` -> ``css/app.<hash>.css``; a missing file keeps its name."""
        asset = self.get(filename)
        if asset is None:
            return filename
        stem, dot, ext = filename.rpartition(".")
        if not dot or "/" in ext:
            return f"{filename}.{asset.digest}"
        return f"{stem}.{asset.digest}.{ext}"


def _read(path: Path, key: tuple[int, int]) -> Asset:
    body = path.read_bytes()
    mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    gzipped = None
    if mimetype.startswith(COMPRESSIBLE):
        # mtime=0: the same bytes (and ETag) on every start and every host.
        packed = gzip.compress(body, compresslevel=9, mtime=0)
        if len(packed) < len(body):
            gzipped = packed
    return Asset(key, hashlib.sha256(body).hexdigest()[:HASH_LENGTH], mimetype, body, gzipped)


def _accepts_gzip() -> bool:
    return request.accept_encodings["gzip"] > 0


def serve(assets: Assets, filename: str) -> Response:
    match = FINGERPRINTED.match(filename.rpartition("/")[2])
    asset, fingerprint = None, None
    if match:
        folder = filename.rpartition("/")[0]
        plain = (folder + "/" if folder else "") + match["stem"] + match["ext"]
        asset = assets.get(plain)
        if asset is not None:
            fingerprint = match["hash"]
    if asset is None:
        asset = assets.get(filename)
    if asset is None:
        abort(404)
    compressed = asset.gzipped is not None and _accepts_gzip()
    response = Response(asset.gzipped if compressed else asset.body, mimetype=asset.mimetype)
    if asset.gzipped is not None:
        response.vary.add("Accept-Encoding")
        if compressed:
            response.headers["Content-Encoding"] = "gzip"
    # Each encoding its own ETag: a cache must not answer 304 for bytes of another encoding.
    response.set_etag(asset.digest + ("-gz" if compressed else ""))
    response.headers["Cache-Control"] = IMMUTABLE if fingerprint == asset.digest else REVALIDATE
    return response.make_conditional(request)


def init_app(app: Flask) -> None:
    """Takes over Flask's ``static`` endpoint (same URL rule, our view)."""
    assets = Assets(app.static_folder)
    app.extensions["assets"] = assets
    app.view_functions["static"] = lambda filename: serve(assets, filename)

    def asset_url(filename: str) -> str:
        return url_for("static", filename=assets.url_name(filename))

    app.jinja_env.globals["asset_url"] = asset_url
