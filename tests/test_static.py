"""Front-end weight and provenance: vendored, pinned, small."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parent.parent / "static"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"


def test_htmx_is_the_pinned_2_0_x_build():
    data = (STATIC / "vendor/htmx/htmx-2.0.11.min.js").read_bytes()
    assert hashlib.sha256(data).hexdigest() == "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717"
    assert (STATIC / "vendor/htmx/LICENSE").exists()


def test_page_assets_stay_under_40_kb_gzipped():
    files = [STATIC / "vendor/htmx/htmx-2.0.11.min.js", STATIC / "css/app.css", STATIC / "js/app.js"]
    total = sum(len(gzip.compress(f.read_bytes(), 9)) for f in files)
    assert total < 40 * 1024, total


def test_templates_load_nothing_from_other_hosts():
    remote = re.compile(r"""(src|href|action)\s*=\s*["'](https?:)?//""", re.I)
    for template in TEMPLATES.rglob("*.html"):
        assert not remote.search(template.read_text()), template


# -- serving: fingerprinted, cached for a year, compressed -------------------------------------

ASSET_LINK = re.compile(r'(?:href|src)="(/static/[^"]+)"')


def _linked_assets(client) -> list[str]:
    body = client.get("/login").get_data(as_text=True)
    return ASSET_LINK.findall(body)


def test_every_template_links_static_files_through_asset_url():
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert "url_for('static'" not in text and 'url_for("static"' not in text, template
        assert not re.search(r"""(src|href)\s*=\s*["']/static/""", text), template


def test_pages_link_fingerprinted_urls_cached_for_a_year(client):
    links = _linked_assets(client)
    assert len(links) == 3, links
    for url in links:
        folder, _, name = url.removeprefix("/static/").rpartition("/")
        stem, digest, ext = name.rsplit(".", 2)
        plain = STATIC / folder / f"{stem}.{ext}"
        assert digest == hashlib.sha256(plain.read_bytes()).hexdigest()[:12], url
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert response.get_data() == plain.read_bytes()
        assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_plain_urls_still_work_and_revalidate(client):
    response = client.get("/static/css/app.css")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.get_data() == (STATIC / "css/app.css").read_bytes()
    again = client.get("/static/css/app.css", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""


def test_an_old_fingerprint_gets_the_current_file_without_long_caching(client):
    response = client.get("/static/css/app.000000000000.css")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.get_data() == (STATIC / "css/app.css").read_bytes()


def test_gzip_when_accepted_with_vary(client):
    url = next(u for u in _linked_assets(client) if u.endswith(".js") and "htmx" in u)
    packed = client.http.get(url, headers={"Accept-Encoding": "br, gzip, deflate"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.get_data()) == (STATIC / "vendor/htmx/htmx-2.0.11.min.js").read_bytes()
    assert int(packed.headers["Content-Length"]) == len(packed.get_data())
    for refused in ({}, {"Accept-Encoding": "gzip;q=0, identity"}, {"Accept-Encoding": "br"}):
        plain = client.http.get(url, headers=refused)
        assert "Content-Encoding" not in plain.headers, refused
        assert "Accept-Encoding" in plain.headers["Vary"]
        assert plain.get_data() == (STATIC / "vendor/htmx/htmx-2.0.11.min.js").read_bytes()
        # The encodings never share an ETag, so a 304 cannot hand back the other bytes.
        assert plain.headers["ETag"] != packed.headers["ETag"]
    not_modified = client.http.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": packed.headers["ETag"]})
    assert not_modified.status_code == 304


def test_js_and_css_on_the_wire_stay_under_40_kb(client):
    total = 0
    for url in _linked_assets(client):
        response = client.http.get(url, headers={"Accept-Encoding": "gzip"})
        assert response.headers.get("Content-Encoding") == "gzip", url
        total += len(response.get_data())
    assert total < 40 * 1024, total


def test_missing_files_and_paths_outside_the_folder_are_404(client):
    for url in ("/static/css/nope.css", "/static/css/nope.0123456789ab.css", "/static/../wsgi.py",
                "/static/%2e%2e/wsgi.py", "/static/css", "/static/css/"):
        response = client.get(url)
        assert response.status_code == 404, url


def test_a_changed_file_gets_a_new_fingerprint(tmp_path):
    import os

    from webapp.assets import Assets

    (tmp_path / "css").mkdir()
    style = tmp_path / "css" / "site.css"
    style.write_text("body { color: red; }\n")
    assets = Assets(str(tmp_path))
    first = assets.url_name("css/site.css")
    assert first == f"css/site.{hashlib.sha256(style.read_bytes()).hexdigest()[:12]}.css"
    style.write_text("body { color: blue; }\n")
    os.utime(style, ns=(1, 1))  # a different modification time whatever the clock's resolution
    second = assets.url_name("css/site.css")
    assert second != first
    assert assets.get("css/site.css").body == b"body { color: blue; }\n"
    assert assets.url_name("css/missing.css") == "css/missing.css"
