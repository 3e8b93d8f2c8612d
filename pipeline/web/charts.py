"""Charts drawn on the server as inline SVG: no script, no library, every text escaped.

A chart draws the counts it is given and nothing else: a suppressed count (``"<5"``) is drawn as
an empty outline with its label, never as a bar of a guessed length, and no total is added.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

BAR_H, GAP, LABEL_W, BAR_W, VALUE_W = 18, 6, 150, 360, 60


def bar_chart(title: str, table: dict[str, int | str]) -> Markup:
    """A horizontal bar chart of ``table`` (label -> count or a suppressed marker)."""
    numbers = [v for v in table.values() if isinstance(v, int)]
    top = max(numbers, default=0) or 1
    height = max(1, len(table)) * (BAR_H + GAP) + GAP
    width = LABEL_W + BAR_W + VALUE_W
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}"><title>{escape(title)}</title>']
    if not table:
        parts.append(f'<text x="0" y="{BAR_H}" font-size="12" fill="#5b5b66">none</text>')
    for n, (label, value) in enumerate(table.items()):
        y = GAP + n * (BAR_H + GAP)
        text_y = y + BAR_H - 5
        parts.append(f'<text x="{LABEL_W - 6}" y="{text_y}" font-size="12" text-anchor="end" fill="#1d1d1f">{escape(label)}</text>')
        if isinstance(value, int):
            w = round(BAR_W * value / top)
            parts.append(f'<rect x="{LABEL_W}" y="{y}" width="{max(w, 1) if value else 0}" height="{BAR_H}" fill="#1f5fa8"/>')
            parts.append(f'<text x="{LABEL_W + w + 4}" y="{text_y}" font-size="12" fill="#1d1d1f">{value}</text>')
        else:  # suppressed: no bar length that could be read as a number
            parts.append(f'<rect x="{LABEL_W}" y="{y}" width="24" height="{BAR_H}" fill="none" stroke="#9a5b00" '
                         f'stroke-dasharray="3 2" data-suppressed="1"/>')
            parts.append(f'<text x="{LABEL_W + 30}" y="{text_y}" font-size="12" fill="#9a5b00">{escape(value)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every piece of text above is escaped


_SVG_NS = "http://www.w3.org/2000/svg"
#: what a chart drawn elsewhere may keep when it goes inline: shapes, text and their presentation
_SVG_TAGS = frozenset(("svg", "g", "title", "desc", "clipPath", "rect", "path", "line", "polyline", "polygon",
                       "circle", "ellipse", "text", "tspan"))
_URL_REF = re.compile(r"url\(#([A-Za-z0-9_.-]+)\)")


def inline_svg(document: str, prefix: str, title: str | None = None) -> Markup:
    """An SVG document (a chart the library drew, e.g. :func:`pipeline.trends.trend_chart_svg`) as an
    ``<svg>`` element for a page under a CSP without ``'unsafe-inline'``: parsed and written out
    again (so every text is escaped), its ``style="..."`` declarations turned into presentation
    attributes (a style attribute would be blocked), anything but shapes and text left out (no
    script, no event handler, no link), and its ids prefixed with ``prefix`` (several charts on one
    page); ``title`` replaces its ``<title>`` (read out by a screen reader)."""
    import xml.etree.ElementTree as ET  # noqa: N817 - the usual name; parses our own library's output

    root = ET.fromstring(re.sub(r"<!DOCTYPE[^>]*>", "", document.split("?>", 1)[-1], count=1))

    def local(name: str) -> str:
        return name.rsplit("}", 1)[-1]

    def clean(el: ET.Element) -> ET.Element | None:
        tag = local(el.tag)
        if el.tag.startswith("{") and not el.tag.startswith("{" + _SVG_NS) or tag not in _SVG_TAGS:
            return None
        out = ET.Element(tag)
        attrs: dict[str, str] = {}
        for name, value in el.attrib.items():
            if name.startswith("{"):  # xlink:href and the like: no links in a chart
                continue
            if name.lower().startswith("on") or name in ("href", "src"):
                continue
            if name == "style":
                for decl in value.split(";"):
                    prop, sep, val = decl.partition(":")
                    if sep and re.fullmatch(r"[a-z-]+", prop.strip()):
                        attrs.setdefault(prop.strip(), val.strip())
                continue
            attrs[name] = value
        if attrs.get("font-family", "").endswith("-Bold"):
            attrs["font-family"], attrs["font-weight"] = attrs["font-family"][:-5], "bold"
        for name, value in attrs.items():
            if name == "id":
                value = f"{prefix}-{value}"
            out.set(name, _URL_REF.sub(lambda m: f"url(#{prefix}-{m.group(1)})", value))
        out.text, out.tail = (title if tag == "title" and title is not None else el.text), el.tail
        for child in el:
            kept = clean(child)
            if kept is not None:
                out.append(kept)
        return out

    svg = clean(root)
    if svg is None:
        raise ValueError("not an SVG document")
    svg.set("xmlns", _SVG_NS)
    svg.set("class", "chart")
    svg.set("role", "img")
    if title is not None:
        svg.set("aria-label", title)
    return Markup(ET.tostring(svg, encoding="unicode", short_empty_elements=True))  # noqa: S704 - re-serialised: escaped
