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
