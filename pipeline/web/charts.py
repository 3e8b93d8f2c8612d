"""Charts drawn on the server as inline SVG: no script, no library, every text escaped.

A chart draws the counts it is given and nothing else: a suppressed count (``"<5"``) is drawn as
an empty outline with its label, never as a bar of a guessed length, and no total is added.
"""

from __future__ import annotations

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
