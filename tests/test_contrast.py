"""Text contrast, computed from static/css/app.css: every rule that gives text a colour on a
background of its own (badges, pills, flashes, notes, buttons) meets WCAG AA for small text
(4.5:1), and so does muted text on the page's backgrounds. A colour changed in the CSS that
breaks it fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parent.parent / "static" / "css" / "app.css").read_text()
AA = 4.5
HEX = re.compile(r"#(?:[0-9a-fA-F]{6}|[0-9a-fA-F]{3})\b")


def _without_comments(css: str) -> str:
    return re.sub(r"/\*.*?\*/", "", css, flags=re.S)


def variables(css: str) -> dict[str, str]:
    root = re.search(r":root\s*\{([^}]*)\}", css).group(1)
    return {name: value.strip() for name, value in re.findall(r"(--[\w-]+)\s*:\s*([^;]+);", root)}


def rules(css: str) -> list[tuple[str, dict[str, str]]]:
    """(selector, declarations) of every plain rule, those inside @media included."""
    found = []
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", _without_comments(css)):
        selector = selector.strip()
        if selector.startswith("@") or selector == ":root":
            continue
        decls = dict((k.strip(), v.strip()) for k, v in re.findall(r"([\w-]+)\s*:\s*([^;]+)", body))
        found.append((selector, decls))
    return found


def resolve(value: str | None, names: dict[str, str]) -> str | None:
    """A colour value as #rrggbb, through var(); None when it is not a plain colour."""
    if value is None:
        return None
    for _ in range(5):
        match = re.fullmatch(r"var\((--[\w-]+)\)", value.strip())
        if not match:
            break
        value = names[match.group(1)]
    match = HEX.fullmatch(value.strip())
    if not match:
        return None
    text = value.strip().lstrip("#")
    return "#" + ("".join(c * 2 for c in text) if len(text) == 3 else text).lower()


def luminance(colour: str) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def contrast(a: str, b: str) -> float:
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


NAMES = variables(CSS)
RULES = rules(CSS)
PANEL, PAGE = resolve("var(--panel)", NAMES), resolve("var(--bg)", NAMES)


def _declared(selector: str) -> dict[str, str]:
    merged: dict[str, str] = {}
    for sel, decls in RULES:
        if selector in [s.strip() for s in sel.split(",")]:
            merged.update(decls)
    return merged


def _pairs() -> list[tuple[str, str, str]]:
    """(selector, text colour, background) for every rule setting a text colour on a
    background, a badge or pill variant taking what it does not set from its base class."""
    base = {"badge": _declared(".badge"), "pill": _declared(".pill")}
    pairs = []
    for selector, decls in RULES:
        for sel in (s.strip() for s in selector.split(",")):
            family = next((f for f in base if re.search(rf"\.{f}-[\w-]+$", sel) or re.search(rf"\.sync-{f}-", sel)), None)
            inherited = base.get(family, {}) if family else {}
            colour = resolve(decls.get("color") or inherited.get("color"), NAMES)
            background = resolve(decls.get("background") or decls.get("background-color")
                                 or inherited.get("background"), NAMES)
            if colour and background and ("color" in decls or family):
                pairs.append((sel, colour, background))
    return pairs


PAIRS = _pairs()


def test_the_css_is_read():
    """The parser sees the badge classes; a parser that found nothing would pass anything."""
    selectors = {sel for sel, _, _ in PAIRS}
    for expected in (".badge", ".badge-pending", ".badge-won", ".badge-lead", ".pill-won", ".pill-open",
                     ".sync-badge-succeeded", ".sync-badge-paused", ".sf-note", ".flash-success"):
        assert expected in selectors, expected
    assert contrast("#000000", "#ffffff") == pytest.approx(21)
    assert contrast("#777777", "#ffffff") == pytest.approx(4.48, abs=0.01)


@pytest.mark.parametrize(("selector", "colour", "background"), PAIRS, ids=[p[0] for p in PAIRS])
def test_text_on_its_background_meets_aa(selector, colour, background):
    assert contrast(colour, background) >= AA, f"{selector}: {colour} on {background} is {contrast(colour, background):.2f}:1"


@pytest.mark.parametrize("name", ["--muted", "--accent", "--red", "--green", "--amber", "--ink"])
@pytest.mark.parametrize("background", ["--panel", "--bg"])
def test_text_colours_on_the_page_backgrounds_meet_aa(name, background):
    colour, behind = resolve(f"var({name})", NAMES), resolve(f"var({background})", NAMES)
    assert contrast(colour, behind) >= AA, f"{name} on {background}: {contrast(colour, behind):.2f}:1"
