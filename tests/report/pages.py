"""Reading back what a report page and its PNG files hold (for the tests)."""

from __future__ import annotations

import base64
import io
import struct
from html.parser import HTMLParser

import matplotlib.image

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels from the PNG header; asserts the signature."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def decoded_png(data: bytes):
    """The decoded image (height, width, channels), floats 0..1."""
    return matplotlib.image.imread(io.BytesIO(data), format="png")


class Page(HTMLParser):
    """Cells with ``data-key`` (key -> (data-value or None, text)), table ``rows`` (cell
    texts), embedded images (``data-figure`` name -> PNG bytes), external references, tag
    names and plain text."""

    def __init__(self) -> None:
        super().__init__()
        self.values: dict[str, tuple[float | None, str]] = {}
        self.images: dict[str, bytes] = {}
        self.external: list[str] = []
        self.tags: set[str] = set()
        self.text = ""
        self.rows: list[list[str]] = []
        self._in_cell = False
        self._key: tuple[str, float | None] | None = None
        self._cell = ""
        self._figure: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        self.tags.add(tag)
        for name in ("src", "href"):
            ref = a.get(name) or ""
            if ref and not ref.startswith(("data:", "#")):
                self.external.append(ref)
        if tag == "tr":
            self.rows.append([])
        if tag in ("td", "th") and self.rows:
            self.rows[-1].append("")
            self._in_cell = True
        if "data-key" in a:
            value = a.get("data-value")
            self._key, self._cell = (a["data-key"], float(value) if value else None), ""
        if tag == "figure":
            self._figure = a.get("data-figure")
        if tag == "img" and self._figure and (a.get("src") or "").startswith("data:image/png"):
            self.images[self._figure] = base64.b64decode(a["src"].split(",", 1)[1])

    def handle_endtag(self, tag):
        if tag in ("td", "th"):
            self._in_cell = False
        if tag == "td" and self._key:
            self.values[self._key[0]] = (self._key[1], " ".join(self._cell.split()))
            self._key = None

    def handle_data(self, data):
        self.text += data
        if self._in_cell:
            self.rows[-1][-1] += data
        if self._key:
            self._cell += data


def read_page(html: str) -> Page:
    page = Page()
    page.feed(html)
    return page
