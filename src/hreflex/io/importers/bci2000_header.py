"""The text header of a BCI2000 ``.dat`` file (BCI2000 file format, versions 1.0 and 1.1).

The header is ``HeaderLen`` bytes of text (Latin-1, CR LF line ends), the data follow it:

- a first line of ``Key= value`` pairs: ``BCI2000V`` (absent before 1.1), ``HeaderLen`` (the
  header's length in bytes, this line included), ``SourceCh``, ``StatevectorLen`` and (1.1)
  ``DataFormat`` ``int16|int32|float32`` (default ``int16``);
- ``[ State Vector Definition ]``: one ``Name Length Value ByteLocation BitLocation`` line per
  state (``Length`` bits from bit ``ByteLocation * 8 + BitLocation`` of the state vector);
- ``[ Parameter Definition ]``: one ``Section Type Name= Value … // comment`` line per
  parameter. Scalars (``int``, ``float``, ``string``, …) have one value (then default, low,
  high); list types (``list``, ``intlist``, ``floatlist``, ``stringlist``) give ``N`` or
  ``{ labels }`` then that many values; ``matrix`` gives a row and a column dimension (each
  ``N`` or ``{ labels }``) then rows × columns values, row by row. Values are URL-encoded
  (``%20`` = space, a lone ``%`` = empty); a value in braces is a nested list or matrix,
  kept as its text. Numbers may carry a physical unit (``14ms``, ``1.0V``, ``3200Hz``,
  ``0.1muV``): see :meth:`Header.physical`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

from hreflex.errors import FileFormatError

_NUMBER = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-zµμ]*)\s*$")
#: unit prefix -> power of ten
_PREFIX = {
    "": 0,
    "p": -12,
    "n": -9,
    "u": -6,
    "mu": -6,
    "µ": -6,
    "μ": -6,
    "m": -3,
    "k": 3,
    "M": 6,
    "G": 9,
}
_SECTIONS = (b"[ State Vector Definition ]", b"[ Parameter Definition ]")
_TEXT_BYTES = frozenset(b"\t\r\n" + bytes(range(32, 256)))
#: a parameter (``Section Type Name= …``) or state (``Name Length Value Byte Bit``) line
_PARAM_LINE = re.compile(rb"^[\x21-\x7e]+ [A-Za-z]+ [\x21-\x7e]+=(?: |\r?$)")
_STATE_LINE = re.compile(rb"^[\x21-\x7e]+ \d+ \d+ \d+ \d+ *\r?$")


@dataclass
class Param:
    """One parameter: its type, values (decoded, row by row for matrices) and dimensions."""

    name: str
    kind: str
    values: list[str]
    rows: int = 1
    cols: int = 1
    row_labels: list[str] = field(default_factory=list)
    col_labels: list[str] = field(default_factory=list)

    @property
    def value(self) -> str:
        """The (first) value ("" when empty)."""
        return self.values[0] if self.values else ""

    def matrix(self) -> list[list[str]]:
        """Rows of a matrix parameter (a list is one row per value)."""
        if self.kind != "matrix":
            return [[v] for v in self.values]
        return [self.values[r * self.cols : (r + 1) * self.cols] for r in range(self.rows)]

    def column(self, label: str, position: int) -> int:
        """Index of the column labelled ``label`` (case and spaces ignored), else ``position``."""
        wanted = label.replace(" ", "").lower()
        for i, name in enumerate(self.col_labels):
            if name.replace(" ", "").lower() == wanted:
                return i
        return position


def _decode(token: str) -> str:
    return "" if token == "%" else unquote(token, encoding="latin-1")


def _group(tokens: list[str], i: int) -> tuple[list[str], int]:
    """Tokens inside the braces opening at ``tokens[i]`` and the index after the closing one."""
    depth, j = 0, i
    while j < len(tokens):
        depth += {"{": 1, "}": -1}.get(tokens[j], 0)
        if depth == 0:
            return tokens[i + 1 : j], j + 1
        j += 1
    raise ValueError("unclosed {")


def _dimension(tokens: list[str], i: int) -> tuple[int, list[str], int]:
    """``(count, labels, next index)`` of a list/matrix dimension: ``N`` or ``{ labels }``."""
    if tokens[i] == "{":
        labels, j = _group(tokens, i)
        return len(labels), [_decode(t) for t in labels], j
    count = int(tokens[i])
    if count < 0:
        raise ValueError("negative count")
    return count, [], i + 1


def _values(tokens: list[str], i: int, n: int) -> list[str]:
    out = []
    for _ in range(n):
        if tokens[i] == "{":  # a nested list or matrix: keep its text
            inner, i = _group(tokens, i)
            out.append(" ".join(inner))
        else:
            out.append(_decode(tokens[i]))
            i += 1
    return out


def parse_param(line: str) -> Param | None:
    """A ``Section Type Name= values … // comment`` line -> :class:`Param` (None if the line
    is not a parameter definition); ValueError/IndexError when its values are malformed."""
    tokens = line.split()
    if "//" in tokens:
        tokens = tokens[: tokens.index("//")]
    if len(tokens) < 3 or "=" not in tokens[2]:
        return None
    name, _, rest = tokens[2].partition("=")
    kind, tokens = tokens[1].lower(), ([rest] if rest else []) + tokens[3:]
    if kind == "matrix":
        rows, row_labels, i = _dimension(tokens, 0)
        cols, col_labels, i = _dimension(tokens, i)
        return Param(
            name, kind, _values(tokens, i, rows * cols), rows, cols, row_labels, col_labels
        )
    if kind.endswith("list"):
        n, labels, i = _dimension(tokens, 0)
        return Param(name, kind, _values(tokens, i, n), n, 1, labels)
    return Param(name, kind, _values(tokens, 0, 1) if tokens else [])


@dataclass
class Header:
    """A parsed header. ``states``: name -> (bits, byte, bit); ``params``: name -> Param;
    ``malformed``: names of parameter lines whose values could not be parsed."""

    source: Path
    length: int
    first: dict[str, str]
    states: dict[str, tuple[int, int, int]]
    params: dict[str, Param]
    malformed: set[str] = field(default_factory=set)

    def param(self, name: str) -> Param | None:
        """Parameter ``name``, None when absent; FileFormatError when its line is malformed."""
        if name in self.malformed:
            raise FileFormatError(f"{self.source}: parameter {name} has malformed values")
        return self.params.get(name)

    def text(self, name: str) -> str | None:
        """The value of scalar parameter ``name`` (None when absent or empty)."""
        p = self.param(name)
        return p.value.strip() or None if p else None

    def physical(
        self, name: str, text: str, unit: str, bare: float | None, power: int = 0
    ) -> float:
        """``text`` (a value of parameter ``name``) in units of ``10**power`` ``unit`` (``s``,
        ``V``, ``Hz``; e.g. ``power=-3`` for ms): the number times its prefix (``ms``, ``muV``/
        ``uV``/``µV``, ``kHz``, …), or times ``bare`` when it has no unit (BCI2000 reads a time
        without unit as sample blocks; None = a unit is required). FileFormatError naming the
        parameter when it is not such a number."""
        match = _NUMBER.match(text)
        suffix = match[2] if match else ""
        if match and not suffix and bare is not None:
            return float(match[1]) * bare
        prefix = suffix[: len(suffix) - len(unit)]
        same = suffix.endswith(unit) or (unit == "Hz" and suffix.lower().endswith("hz"))
        if not (match and suffix and same and prefix in _PREFIX):
            expected = f"a number{' with a unit' if bare is None else ''} in {unit}"
            raise FileFormatError(
                f"{self.source}: parameter {name} value {text!r} is not {expected}"
            )
        shift = _PREFIX[prefix] - power  # exact powers of ten: 13ms stays 13 ms
        return float(match[1]) * 10**shift if shift >= 0 else float(match[1]) / 10**-shift


def _check_text(source: Path, length: int, header: bytes, after: bytes) -> None:
    """FileFormatError when ``HeaderLen`` cannot be the header's length."""
    bad = next((i for i, b in enumerate(header) if b not in _TEXT_BYTES), None)
    if bad is not None:
        raise FileFormatError(
            f"{source}: HeaderLen = {length} lies: byte {bad} of the header is binary data "
            "(the header ends earlier)"
        )
    if not header.endswith(b"\n"):
        raise FileFormatError(
            f"{source}: HeaderLen = {length} lies: it ends the header in the middle of a line"
        )
    missing = [s.decode() for s in _SECTIONS if s not in header]
    if missing:
        raise FileFormatError(f"{source}: header has no {' or '.join(missing)} section")
    line = after.split(b"\n", 1)[0]
    if len(after) > len(line) and (_PARAM_LINE.match(line) or _STATE_LINE.match(line)):
        raise FileFormatError(
            f"{source}: HeaderLen = {length} lies: header lines continue after it"
        )


def read_header(source: Path) -> Header:
    """Read and parse the header of ``source``; one-line FileFormatError when it is not a
    BCI2000 header or its ``HeaderLen`` does not match the text."""
    try:
        with source.open("rb") as f:
            first_line = f.readline(4096)
            match = re.search(rb"HeaderLen=\s*(\d+)", first_line)
            if not first_line.startswith((b"BCI2000V=", b"HeaderLen=")) or match is None:
                raise FileFormatError(f"{source}: not a BCI2000 .dat file (no HeaderLen= line)")
            length, size = int(match[1]), source.stat().st_size
            if not len(first_line) <= length <= size:
                raise FileFormatError(
                    f"{source}: HeaderLen = {length} lies: the file has {size} bytes and its "
                    f"first header line alone {len(first_line)}"
                )
            f.seek(0)
            raw = f.read(length)
            after = f.read(256)
    except OSError as exc:
        raise FileFormatError(f"{source}: cannot read ({exc.strerror or exc})") from None
    _check_text(source, length, raw, after)
    lines = raw.decode("latin-1").splitlines()
    tokens = lines[0].split()
    first = {k.rstrip("="): v for k, v in zip(tokens[::2], tokens[1::2], strict=False)}
    states: dict[str, tuple[int, int, int]] = {}
    params: dict[str, Param] = {}
    malformed: set[str] = set()
    section = ""
    for number, line in enumerate(lines[1:], start=2):
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped.strip("[] ").lower()
        elif section == "state vector definition" and stripped:
            parts = stripped.split()
            try:
                length_bits, _, byte, bit = (int(p) for p in parts[1:5])
            except ValueError:
                raise FileFormatError(
                    f"{source}: header line {number}: state definition {stripped!r} is not "
                    "'Name Length Value ByteLocation BitLocation'"
                ) from None
            states[parts[0]] = (length_bits, byte, bit)
        elif section == "parameter definition" and stripped:
            try:
                param = parse_param(stripped)
            except (ValueError, IndexError):  # kept out; an error only if someone needs it
                malformed.add((stripped.split() + ["", "", ""])[2].partition("=")[0])
                continue
            if param is not None:
                params[param.name] = param
    return Header(source, length, first, states, params, malformed)


def channel_index(spec: str, labels: list[str]) -> int | None:
    """Index of the channel ``spec`` names, as BCI2000 resolves it: a channel label (exact,
    else the one label equal ignoring case), else a 1-based channel number; None if neither."""
    spec = spec.strip()
    if spec in labels:
        return labels.index(spec)
    folded = [i for i, label in enumerate(labels) if label.lower() == spec.lower()]
    if len(folded) == 1:
        return folded[0]
    if spec.isdigit() and 1 <= int(spec) <= len(labels):
        return int(spec) - 1
    return None
