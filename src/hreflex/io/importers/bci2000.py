"""BCI2000 ``.dat`` files (as EPOCS and other BCI2000 applications write them).

Layout: a text header of ``HeaderLen`` bytes — a first line of ``Key= value`` pairs
(``HeaderLen``, ``SourceCh``, ``StatevectorLen``, ``DataFormat`` int16|int32|float32, default
int16), a ``[ State Vector Definition ]`` section (``Name Length Value ByteLocation
BitLocation``) and a ``[ Parameter Definition ]`` section (``Section DataType Name= value ...
// comment``, values URL-encoded) — then, per sample, ``SourceCh`` values followed by the
``StatevectorLen``-byte state vector (state bits little-endian from ``ByteLocation * 8 +
BitLocation``). Signal in µV = (raw − SourceChOffset) × SourceChGain.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import numpy as np

from hreflex.errors import ConfigError, FileFormatError
from hreflex.io.importers.build import as_number, continuous_session, rising_edges
from hreflex.io.session import Session

_DTYPES = {"int16": "<i2", "int32": "<i4", "float32": "<f4"}
#: unit suffix of a gain value -> µV per unit
_MICROVOLTS = {"": 1.0, "muv": 1.0, "uv": 1.0, "µv": 1.0, "nv": 1e-3, "mv": 1e3, "v": 1e6}
_FREQUENCY = {"": 1.0, "hz": 1.0, "khz": 1e3}


def looks_like_bci2000(head: bytes) -> bool:
    """True when ``head`` (the first bytes of a file) starts a BCI2000 header."""
    return head.startswith((b"BCI2000V=", b"HeaderLen="))


def _number(text: str, units: dict[str, float], source: Path, what: str) -> float:
    match = re.fullmatch(r"\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*([A-Za-zµ]*)\s*", unquote(text))
    if match is None or match[2].lower() not in units:
        raise FileFormatError(f"{source}: parameter {what} value {text!r} is not understood")
    return float(match[1]) * units[match[2].lower()]


def parse_header(source: Path, text: str) -> tuple[dict, dict, dict]:
    """``(first_line, states, parameters)`` of a header.

    ``states``: name -> (length, byte, bit); ``parameters``: name -> list of value strings
    (one for scalars; list parameters give their elements).
    """
    lines = text.splitlines()
    tokens = lines[0].split() if lines else []
    first = {k.rstrip("="): v for k, v in zip(tokens[::2], tokens[1::2], strict=False)}
    states, params, section = {}, {}, ""
    for line in lines[1:]:
        line = line.strip()
        if line.startswith("["):
            section = line.strip("[] ").lower()
            continue
        body = line.split("//", 1)[0].split()
        if section == "state vector definition" and len(body) >= 5:
            states[body[0]] = (int(body[1]), int(body[3]), int(body[4]))
        elif section == "parameter definition" and len(body) >= 4 and body[2].endswith("="):
            kind, values = body[1], body[3:]
            if not kind.endswith("list"):
                values = values[:1]  # scalar: the value (default, min, max follow)
            elif values[0] == "{":  # labelled list: { labels } values
                count = values.index("}") - 1
                values = values[count + 2 : 2 * count + 2]
            else:
                values = values[1 : int(values[0]) + 1]
            params[body[2].rstrip("=")] = [unquote(v) for v in values]
    return first, states, params


def state_values(vectors: np.ndarray, length: int, byte: int, bit: int) -> np.ndarray:
    """Values (int64, (n,)) of one state from the (n, StatevectorLen) uint8 state vectors."""
    n_bytes = (bit + length + 7) // 8
    chunk = vectors[:, byte : byte + n_bytes].astype(np.uint64)
    shifts = (8 * np.arange(n_bytes)).astype(np.uint64)
    packed = np.bitwise_or.reduce(chunk << shifts, axis=1)
    return ((packed >> np.uint64(bit)) & np.uint64((1 << length) - 1)).astype(np.int64)


def _find_trigger(source: Path, states: dict, names: list[str]) -> str:
    candidates = [s for s in states if "trig" in s.lower()] + [
        c for c in names if "trig" in c.lower()
    ]
    if len(candidates) != 1:
        raise ConfigError(
            f"{source}: give --trigger (a state or channel name); states: "
            f"{', '.join(states) or 'none'}; channels: {', '.join(names)}"
        )
    return candidates[0]


def read_bci2000(
    path: str | Path,
    *,
    trigger: str | None = None,
    trigger_threshold: float | None = None,
    intensity: str | None = None,
    pulse_width_us: float | None = None,
) -> Session:
    """Import a BCI2000 .dat file as a continuous session.

    Stimuli are where ``trigger`` — a state (onset = the state turns non-zero) or a source
    channel (rising edge through ``trigger_threshold`` µV, default halfway between its
    minimum and maximum; the channel is then not stored as EMG) — fires. By default the one
    state or channel whose name contains "trig". ``intensity``: a constant (mA) or a state
    whose value at each onset is the intensity in mA.
    """
    source = Path(path)
    try:
        with source.open("rb") as f:
            head = f.read(4096)
            match = re.search(rb"HeaderLen=\s*(\d+)", head)
            if not looks_like_bci2000(head) or match is None:
                raise FileFormatError(f"{source}: not a BCI2000 .dat file (no HeaderLen= line)")
            f.seek(0)
            text = f.read(int(match[1])).decode("latin-1")
    except OSError as exc:
        raise FileFormatError(f"{source}: cannot read ({exc.strerror or exc})") from None
    first, states, params = parse_header(source, text)
    try:
        header_len, n_ch = int(first["HeaderLen"]), int(first["SourceCh"])
        state_len = int(first["StatevectorLen"])
    except (KeyError, ValueError) as exc:
        raise FileFormatError(
            f"{source}: first header line lacks {exc} (HeaderLen, SourceCh, StatevectorLen)"
        ) from None
    data_format = first.get("DataFormat", "int16")
    if data_format not in _DTYPES:
        raise FileFormatError(
            f"{source}: DataFormat {data_format!r}; expected int16, int32 or float32"
        )
    for name in ("SamplingRate", "SourceChGain", "SourceChOffset"):
        if not params.get(name):
            raise FileFormatError(f"{source}: parameter {name} is missing from the header")
    rate = _number(params["SamplingRate"][0], _FREQUENCY, source, "SamplingRate")
    gain_uV = np.array(
        [_number(g, _MICROVOLTS, source, "SourceChGain") for g in params["SourceChGain"]]
    )
    offset = np.array(
        [_number(o, {"": 1.0}, source, "SourceChOffset") for o in params["SourceChOffset"]]
    )
    if gain_uV.size != n_ch or offset.size != n_ch:
        raise FileFormatError(
            f"{source}: SourceChGain/SourceChOffset have {gain_uV.size}/{offset.size} values for "
            f"SourceCh = {n_ch} channels"
        )
    names = params.get("ChannelNames") or [f"ch{i}" for i in range(n_ch)]
    if len(names) != n_ch:
        names = [f"ch{i}" for i in range(n_ch)]

    record = np.dtype([("signal", _DTYPES[data_format], (n_ch,)), ("state", "u1", (state_len,))])
    n_samples = (source.stat().st_size - header_len) // record.itemsize
    data = np.fromfile(source, dtype=record, count=max(n_samples, 0), offset=header_len)
    if data.size == 0:
        raise FileFormatError(f"{source}: no samples after the {header_len}-byte header")
    volts = (data["signal"] - offset) * gain_uV * 1e-6  # (n, n_ch)

    trigger = trigger or _find_trigger(source, states, names)
    keep = np.ones(n_ch, bool)
    if trigger in states:
        line = state_values(data["state"], *states[trigger]) != 0
        threshold = 0.5
    elif trigger in names:
        channel = names.index(trigger)
        line, keep[channel] = volts[:, channel] * 1e6, False
        threshold = (
            0.5 * (line.min() + line.max()) if trigger_threshold is None else trigger_threshold
        )
    else:
        raise FileFormatError(
            f"{source}: trigger {trigger!r} is neither a state ({', '.join(states) or 'none'}) "
            f"nor a channel ({', '.join(names)})"
        )
    onsets = rising_edges(line, threshold)
    if onsets.size == 0:
        raise FileFormatError(
            f"{source}: trigger {trigger!r} never fires; expected one onset per stimulus"
        )
    if intensity is None:
        raise ConfigError(f"{source}: give --intensity (a constant in mA or a state name)")
    if as_number(intensity) is not None:
        current = float(intensity)
    elif intensity in states:
        current = state_values(data["state"][onsets], *states[intensity]).astype(float)
    else:
        raise FileFormatError(
            f"{source}: --intensity {intensity!r} is neither a number nor a state"
        )
    return continuous_session(
        source,
        volts[:, keep],
        rate,
        onsets,
        current,
        pulse_width_us=pulse_width_us,
        trigger=np.asarray(line) > threshold,
        channel_names=[n for n, k in zip(names, keep, strict=True) if k],
        description={
            "system": "BCI2000",
            "version": first.get("BCI2000V", "1.0"),
            "data_format": data_format,
            "trigger": trigger,
            "source_channels": list(names),
            "source_ch_gain_uV": gain_uV.tolist(),
        },
    )
