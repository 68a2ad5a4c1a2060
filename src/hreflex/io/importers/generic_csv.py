"""Generic sweep CSV: one column per sweep (wide) or one row per sample (long).

This is also the layout ``hreflex export --format csv`` writes (see ``docs/IMPORT_EXPORT.md``):

- optional leading comment lines ``# key: value`` (``sample_rate_Hz``, ``pre_trigger_ms``,
  ``units``, session metadata such as ``subject_id``, and ``block: <id>,<kind>,<label>``);
- **wide**: column 0 is a label column. Header rows name themselves there (``sweep``,
  ``channel``, ``muscle``, ``intensity_mA``, ``pulse_width_us``, ``block_id``, ...); data
  rows hold the time in ms from the stimulus (or nothing) and one value per column;
- **long**: a first row of column names including ``sweep`` and ``value`` (optional
  ``channel``, ``time_ms`` or ``sample``, and the per-sweep columns), one row per sample.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hreflex.errors import ConfigError, FileFormatError
from hreflex.io.format import BLOCK_DTYPE, empty_table
from hreflex.io.importers.build import (
    as_number,
    epoched_session,
    intensity_factor,
    no_scale_for_constant,
    read_as,
    read_numbers,
    volts_per_unit,
)
from hreflex.io.importers.options import channel_muscles
from hreflex.io.importers.origins import Origins, value_range
from hreflex.io.importers.tables import (
    as_comma_separated,
    cells,
    numbers,
    read_lines,
    split_rows,
)
from hreflex.io.session import Session, SessionMeta

#: per-sweep header rows (wide) / columns (long), named like the stimulus-table fields
STIMULUS_FIELDS = (
    "intensity_mA",
    "pulse_width_us",
    "block_id",
    "train_id",
    "pulse_index",
    "nominal_frequency_Hz",
    "time_s",
)
SWEEP, CHANNEL, MUSCLE, VALUE, TIME, SAMPLE = (
    "sweep",
    "channel",
    "muscle",
    "value",
    "time_ms",
    "sample",
)
INTENSITY = "intensity_mA"
#: comment key -> the option that overrides it
OPTION = {"sample_rate_Hz": "--sample-rate", "pre_trigger_ms": "--pre-ms"}


def _is_number(text: str) -> bool:
    return as_number(text) is not None


def _comments(lines: list[str]) -> tuple[dict[str, str], list[tuple[str, str, str]]]:
    """``# key: value`` lines -> settings, and the ``block:`` lines as (id, kind, label)."""
    settings, blocks = {}, []
    for line in lines:
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "block":
            parts = [p.strip() for p in value.split(",", 2)]
            blocks.append(tuple(parts + [""] * (3 - len(parts))))
        else:
            settings[key] = value
    return settings, blocks


def _floats(values, source: Path, what: str) -> np.ndarray:
    """Text cells -> float64 (empty cells are NaN); FileFormatError naming the first bad cell."""
    text = np.asarray(values, dtype=str)
    try:
        return np.where(text == "", "nan", text).astype(np.float64)
    except ValueError:
        bad = str(next(v for v in text if v and not _is_number(v)))
        raise FileFormatError(f"{source}: {what}: {bad!r} is not a number") from None


def _labels(values) -> tuple[np.ndarray, list[str]]:
    """``(index of every entry into the distinct labels, labels)``: numbers in numeric order,
    other labels in order of first appearance."""
    text = np.asarray(values, dtype=str)
    try:
        labels, index = np.unique(text.astype(np.float64), return_inverse=True)
        return index, [f"{v:g}" for v in labels]
    except ValueError:
        labels, first, index = np.unique(text, return_index=True, return_inverse=True)
        order = np.argsort(first)
        return np.argsort(order)[index], labels[order].tolist()


def _wide(source: Path, header: list[list[str]], data: list[str], first_line: int):
    """Wide layout -> (values (n_sweeps, n_ch, n_samples), time_ms|None, per-sweep rows, names)."""
    rows = {row[0]: row[1:] for row in header if row}
    n_columns = max([len(r) + 1 for r in rows.values()] + [len(cells(data[0])) if data else 0])
    values = numbers(source, data, n_columns, first_line)  # (n_samples, n_columns - 1)
    n_cols = values.shape[1]
    labels = [line.split(",", 1)[0].strip() for line in data]
    time_ms = _floats(labels, source, "time column") if all(labels) else None

    def row(name: str) -> list[str]:
        cellsof = rows[name] + [""] * (n_cols - len(rows[name]))
        return cellsof[:n_cols]

    channels = row(CHANNEL) if CHANNEL in rows else ["ch0"] * n_cols
    channel_index, names = _labels(channels)
    if SWEEP in rows:
        sweep_index, order = _labels(row(SWEEP))
    else:  # the k-th column of each channel is sweep k
        sweep_index, order = _labels([channels[:i].count(c) for i, c in enumerate(channels)])
    n_sweeps, n_ch = len(order), len(names)
    counts = np.zeros((n_sweeps, n_ch), int)
    np.add.at(counts, (sweep_index, channel_index), 1)
    if (counts != 1).any():
        s, c = np.argwhere(counts != 1)[0]
        raise FileFormatError(
            f"{source}: sweep {order[s]} has {counts[s, c]} columns for channel {names[c]!r}; "
            "expected exactly one column per sweep and channel"
        )
    sweeps = np.empty((n_sweeps, n_ch, values.shape[0]))
    sweeps[sweep_index, channel_index] = values.T
    first = np.unique(sweep_index, return_index=True)[1]  # first column of every sweep
    per_sweep = {
        name: [row(name)[i] for i in first] for name in rows if name not in (SWEEP, CHANNEL, MUSCLE)
    }
    muscles = None
    if MUSCLE in rows:
        muscles = [row(MUSCLE)[np.argmax(channel_index == c)] for c in range(len(names))]
    return sweeps, time_ms, per_sweep, names, muscles


def _long(source: Path, columns: list[str], data: list[str]):
    """Long layout -> same as :func:`_wide`."""
    if not data:
        raise FileFormatError(f"{source}: no data rows after the column names")
    try:
        table = np.loadtxt(data, delimiter=",", dtype=str, ndmin=2)
    except ValueError as exc:
        raise FileFormatError(f"{source}: {exc}") from None
    if table.shape[1] != len(columns):
        raise FileFormatError(
            f"{source}: {table.shape[1]} cells per data row but {len(columns)} column names"
        )
    col = {name: table[:, i] for i, name in enumerate(columns)}
    value = _floats(col[VALUE], source, f"column {VALUE!r}")
    sweep, sweep_ids = _labels(col[SWEEP])
    channel = col.get(CHANNEL, np.full(len(value), "ch0"))
    channel_index, names = _labels(channel)
    time_key = TIME if TIME in col else SAMPLE if SAMPLE in col else None
    when = (
        _floats(col[time_key], source, f"column {time_key!r}")
        if time_key
        else np.arange(len(value))
    )
    order = np.lexsort((when, channel_index, sweep))
    counts = np.zeros((len(sweep_ids), len(names)), int)
    np.add.at(counts, (sweep, channel_index), 1)
    if (counts != counts.flat[0]).any():
        raise FileFormatError(
            f"{source}: every sweep and channel needs the same number of rows "
            f"(found {counts.min()} to {counts.max()})"
        )
    sweeps = value[order].reshape(len(sweep_ids), len(names), -1)
    first = order.reshape(len(sweep_ids), len(names), -1)[:, 0, 0]
    time_ms = when[order[: sweeps.shape[2]]] if time_key == TIME else None
    per_sweep = {}
    for name in columns:
        if name in (SWEEP, CHANNEL, MUSCLE, VALUE, TIME, SAMPLE):
            continue
        cells_ = col[name][order].reshape(len(sweep_ids), -1)
        if (cells_ != cells_[:, :1]).any():
            raise FileFormatError(f"{source}: column {name!r} changes within a sweep")
        per_sweep[name] = list(col[name][first])
    muscles = None
    if MUSCLE in col:
        muscles = [col[MUSCLE][np.argmax(channel_index == c)] for c in range(len(names))]
    return sweeps, time_ms, per_sweep, names, muscles


def _setting(
    option, settings: dict[str, str], key: str, source: Path, origins: Origins, what: str
) -> float | None:
    """``option``, else the comment ``# key:``, else None; noted as ``what`` ("field unit")."""
    field, unit = what.rsplit(" ", 1)
    if option is not None:
        origins.set(field, f"{float(option):g} {unit}", "option", OPTION[key])
        return float(option)
    if key in settings:
        value = as_number(settings[key])
        if value is None:
            raise FileFormatError(f"{source}: comment '{key}: {settings[key]}' is not a number")
        origins.set(field, f"{value:g} {unit}", "header", f"comment '# {key}:'")
        return value
    return None


def _timing(source, settings, time_ms, sample_rate, pre_ms, origins) -> tuple[float, float]:
    """Sampling rate (Hz) and pre-trigger time (ms): option, comment, else the time column."""
    rate = _setting(sample_rate, settings, "sample_rate_Hz", source, origins, "sample rate Hz")
    pre = _setting(pre_ms, settings, "pre_trigger_ms", source, origins, "pre-trigger ms")
    if time_ms is not None and len(time_ms) > 1:
        if rate is None:
            rate = 1000.0 / float(np.median(np.diff(time_ms)))
            origins.set("sample rate", f"{rate:g} Hz", "detected", "time column steps")
        if pre is None:
            pre = -float(time_ms[0])
            origins.set("pre-trigger", f"{pre:g} ms", "detected", "first time in the time column")
    if rate is None or pre is None:
        missing = "--sample-rate" if rate is None else "--pre-ms"
        raise ConfigError(
            f"{source}: no time column and no sampling rate / pre-trigger comment; give {missing}"
        )
    return rate, pre


def _blocks(source: Path, block_rows: list, fields: dict) -> np.ndarray | None:
    """The block table from ``# block:`` comments, else from a ``block_id`` row/column."""
    if block_rows:
        blocks = empty_table(BLOCK_DTYPE, len(block_rows))
        try:
            blocks["block_id"] = [int(b[0]) for b in block_rows]
        except ValueError:
            raise FileFormatError(
                f"{source}: comment 'block: <id>,<kind>,<label>' needs an integer id"
            ) from None
        blocks["kind"] = [b[1].encode()[:16] for b in block_rows]
        blocks["label"] = [b[2].encode()[:64] for b in block_rows]
        return blocks
    if "block_id" in fields:
        ids = np.unique(fields["block_id"]).astype(int)
        blocks = empty_table(BLOCK_DTYPE, len(ids))
        blocks["block_id"], blocks["kind"] = ids, b"recruitment"
        return blocks
    return None


def _meta(source, settings, names, muscles, origins) -> tuple[SessionMeta, list[str]]:
    """Session metadata from the comments, and the channels' muscles: the ``muscle`` row, else
    the ``# muscle:`` comment (one muscle, or ``CHANNEL=muscle,…``)."""
    meta = SessionMeta(
        **{k: settings[k] for k in SessionMeta.__dataclass_fields__ if k in settings}
    )
    for key in ("subject_id", "session_id", "species", "nerve", "condition"):
        if key in settings:
            origins.set(key.removesuffix("_id"), settings[key], "header", f"comment '# {key}:'")
    muscles = list(muscles) if muscles else [""] * len(names)
    if "muscle" in settings:
        given = channel_muscles(settings["muscle"], names, source, "comment '# muscle:'")
        meta.muscle = given[min(given)] if given else meta.muscle
        for k, muscle in given.items():
            muscles[k] = muscles[k] or muscle
    return meta, muscles


def _intensities(source, per_sweep, intensity, intensity_file, scale, origins):
    """Intensities (mA): sidecar file, constant, named row/column, else ``intensity_mA``;
    values read from the file or the sidecar × ``scale`` (mA per stored unit)."""
    if as_number(intensity) is not None and intensity_file is None:
        no_scale_for_constant(scale, source)
        origins.set("intensity", f"{float(intensity):g} mA", "option", "--intensity (read as mA)")
        return float(intensity)
    factor = intensity_factor(scale, source)
    how = "option" if scale is not None else "header"
    if intensity_file is not None:
        origins.set(
            "intensity",
            Path(intensity_file).name,
            "option",
            f"--intensity-file ({read_as(factor)})",
        )
        return read_numbers(Path(intensity_file)) * factor
    key = intensity or INTENSITY
    if key not in per_sweep:
        raise FileFormatError(
            f"{source}: no intensities: no header row / column {key!r}; give --intensity "
            "(a row/column name or a constant in mA) or --intensity-file"
        )
    current = _floats(per_sweep[key], source, f"row/column {key!r}") * factor
    origins.set(
        "intensity",
        value_range(current, "mA"),
        "option" if intensity else how,
        f"row/column {key!r} ({read_as(factor)})",
    )
    return current


def read_csv(
    path: str | Path,
    *,
    sample_rate: float | None = None,
    pre_ms: float | None = None,
    units: str | None = None,
    intensity: str | None = None,
    intensity_file: str | Path | None = None,
    intensity_scale: float | None = None,
    pulse_width_us: float | None = None,
) -> Session:
    """Import a generic sweep CSV (wide or long, see the module doc) as an epoched session.

    Sampling rate and pre-trigger time come from ``sample_rate``/``pre_ms``, else from the
    ``# sample_rate_Hz:``/``# pre_trigger_ms:`` comments, else from the time column (ms).
    ``units`` (V, mV, uV) says what the values are (default: ``# units:``, else V).
    Intensities (mA): ``intensity_file`` (one per sweep), else ``intensity`` (a number, or the
    name of the header row / column holding them), else the ``intensity_mA`` row / column;
    values read from the file or the sidecar are multiplied by ``intensity_scale`` (mA per
    stored unit, default 1). A ``# muscle:`` comment (one muscle, or ``CHANNEL=muscle,…``)
    gives the channels without a ``muscle`` row their muscle.
    """
    source = Path(path)
    lines, delimiter = as_comma_separated(read_lines(source))
    comments, header, data = split_rows(lines, lambda c: not c or c[0] == "" or _is_number(c[0]))
    settings, block_rows = _comments(comments)
    first_line = len(lines) - len(data) + 1
    if not header and not data:
        raise FileFormatError(f"{source}: empty file")
    first = header[0] if header else []
    long = SWEEP in first and VALUE in first and not any(map(_is_number, first))
    if long:
        body = split_rows(lines, lambda c: True)[2]
        sweeps, time_ms, per_sweep, names, muscles = _long(source, first, body[1:])
    else:
        sweeps, time_ms, per_sweep, names, muscles = _wide(source, header, data, first_line)

    origins = Origins()
    named = CHANNEL in first if long else any(r and r[0] == CHANNEL for r in header)
    origins.set(
        "channels",
        ", ".join(names),
        *(("header", f"{CHANNEL!r} row/column") if named else ("default", "one channel")),
    )
    unit = units or settings.get("units", "V")
    scale = volts_per_unit(unit, source)
    how = ("header", "comment '# units:'") if "units" in settings else ("default", "")
    origins.set("units", unit, *(("option", "--units") if units else how))
    rate, pre = _timing(source, settings, time_ms, sample_rate, pre_ms, origins)
    current = _intensities(source, per_sweep, intensity, intensity_file, intensity_scale, origins)
    fields = {
        name: _floats(per_sweep[name], source, f"row/column {name!r}")
        for name in STIMULUS_FIELDS[1:]
        if name in per_sweep
    }
    width = fields.pop("pulse_width_us", None)
    if pulse_width_us is not None:
        width = pulse_width_us
        origins.set("pulse width", f"{width:g} µs", "option", "--pulse-width-us (read as µs)")
    elif width is not None:
        detail = "row/column 'pulse_width_us' (read as µs)"
        origins.set("pulse width", value_range(width, "µs"), "header", detail)
    meta, muscles = _meta(source, settings, names, muscles, origins)
    return epoched_session(
        source,
        sweeps * scale,
        rate,
        pre,
        current,
        pulse_width_us=width,
        channel_names=names,
        channel_muscles=muscles,
        meta=meta,
        description={
            "system": "CSV",
            "layout": "long" if long else "wide",
            "delimiter": {",": "comma", ";": "semicolon"}.get(delimiter, "tab"),
            "provenance": origins.text(),
        },
        stimulus_fields=fields,
        blocks=_blocks(source, block_rows, fields),
    )
