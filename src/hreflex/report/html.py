"""HTML building blocks of the self-contained report page: escaping, numbers, tables,
embedded images, the page shell with its inline style. No external CSS, JS, fonts or
images: the page opens offline. Every function returns an HTML string.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Sequence
from html import escape

#: significant digits of numbers shown in the page (the exact value is in ``data-value``)
DIGITS = 4

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0 auto;
       max-width: 1100px; padding: 1em 2em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; }
h3 { margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.92em; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
th { background: #f3f3f3; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.nd { color: #a33; font-style: italic; } .note { color: #555; font-size: 0.9em; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: 0.9em; } pre { background: #f7f7f7; padding: 0.6em;
overflow-x: auto; font-size: 0.85em; } nav a { margin-right: 1em; }
"""


def number(value: float | int | None, digits: int = DIGITS) -> str:
    """``value`` with ``digits`` significant digits; "–" for None."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return f"{value:.{digits}g}"


def not_determinable(reason: str | None) -> str:
    """The standard marker for a value that could not be determined."""
    return f'<span class="nd">not determinable: {escape(reason or "no reason given")}</span>'


def value_cell(key: str, value: float | None, reason: str | None = None) -> str:
    """A table cell showing ``value`` (or why it is missing); ``data-key`` names it and
    ``data-value`` holds the exact number, for tools and tests."""
    if value is None:
        return f'<td data-key="{escape(key)}">{not_determinable(reason)}</td>'
    return (f'<td class="num" data-key="{escape(key)}" data-value="{float(value)!r}">'
            f"{number(value)}</td>")


def table(header: Sequence[str], rows: Iterable[Sequence[str]], *, raw: bool = False) -> str:
    """A table; cells are escaped text, or ready HTML (``<td>``/``<th>`` elements included)
    when ``raw``."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(c if raw else f"<td>{escape(str(c))}</td>" for c in row) + "</tr>"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def pairs(items: Iterable[tuple[str, object]]) -> str:
    """A two-column key/value table of escaped text."""
    return "<table>" + "".join(f"<tr><th>{escape(k)}</th><td>{escape(str(v))}</td></tr>"
                               for k, v in items) + "</table>"


def image(png: bytes, alt: str, caption: str, name: str) -> str:
    """A figure with the PNG embedded as base64 and a caption; ``name`` is the PNG file
    written next to the page."""
    data = base64.b64encode(png).decode("ascii")
    return (f'<figure data-figure="{escape(name)}"><img src="data:image/png;base64,{data}" '
            f'alt="{escape(alt)}"><figcaption>{escape(caption)} '
            f'<span class="note">({escape(name)})</span></figcaption></figure>')


def page(title: str, body: str) -> str:
    """The whole HTML document."""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
            f"<body><h1>{escape(title)}</h1>{body}</body></html>\n")
