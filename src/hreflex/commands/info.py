"""``hreflex info FILE``: what a session file holds, at a glance."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click
import numpy as np


def describe(path: Path) -> str:
    """Multi-line human summary of a session file (validates it first)."""
    from hreflex.io.endstate import describe_end_state, read_end_state
    from hreflex.io.format import decode_str, open_h5
    from hreflex.io.session import read_session

    s = read_session(path)
    with open_h5(path) as f:
        end_state = read_end_state(f)
    m = s.meta
    lines = [
        f"file        {path}",
        f"format      hreflex-session {s.format_version}, written by {m.software_version}, {m.created_utc}",
        f"subject     {m.subject_id or '-'}  session {m.session_id or '-'}  condition {m.condition or '-'}",
        f"species     {m.species}  muscle {m.muscle or '-'}  nerve {m.nerve or '-'}",
        f"layout      {s.layout}, {s.sample_rate_Hz:g} Hz, {s.duration_s:.2f} s",
        f"end state   {describe_end_state(end_state)}",
    ]
    if s.sweeps is not None:
        n_sw, _, n_samp = s.sweeps.shape
        lines.append(
            f"sweeps      {n_sw} × {n_samp} samples ({n_samp / s.sample_rate_Hz * 1e3:g} ms, "
            f"{s.pre_trigger_ms:g} ms pre-trigger)"
        )
    else:
        lines.append(
            f"samples     {len(s.continuous)} ({s.continuous.dtype}, {s.continuous.shape[1]} channels)"
        )
    lines.append(f"channels    {s.n_channels}")
    for i, (name, muscle) in enumerate(zip(s.channel_names, s.channel_muscles, strict=True)):
        lines.append(f"  [{i}] {name:<16} {muscle:<16} {s.scale_V_per_count[i]:.4g} V/count")
    ev = s.stimuli
    lines.append(f"stimuli     {len(ev)}")
    if len(ev):
        text = f"  intensity {ev['intensity_mA'].min():g}–{ev['intensity_mA'].max():g} mA"
        width = ev["pulse_width_us"][np.isfinite(ev["pulse_width_us"])]
        if len(width):
            text += f", pulse width {width.min():g}–{width.max():g} µs"
        lines.append(text)
    lines.append(f"blocks      {len(s.blocks)}")
    for b in s.blocks:
        rows = ev[ev["block_id"] == b["block_id"]]
        freqs = sorted({float(f) for f in rows["nominal_frequency_Hz"] if np.isfinite(f)})
        extra = f", trains at {', '.join(f'{f:g}' for f in freqs)} Hz" if freqs else ""
        lines.append(
            f"  [{b['block_id']}] {decode_str(b['kind']):<12} {decode_str(b['label'])!r}: {len(rows)} stimuli{extra}"
        )
    kinds = Counter(decode_str(k) for k in s.faults["kind"])
    lost = int(s.faults["n_samples"][s.faults["kind"] == b"gap"].sum())
    faults = ", ".join(f"{k} ×{n}" for k, n in sorted(kinds.items())) or "none"
    lines.append(f"faults      {faults}" + (f" ({lost} samples lost in gaps)" if lost else ""))
    if len(s.annotations):
        lines.append(f"annotations {len(s.annotations)} (excluded sweeps etc.)")
    return "\n".join(lines)


@click.command("info")
@click.argument("file", type=click.Path(path_type=Path))
def command(file: Path) -> None:
    """Show channels, duration, rate, stimuli, protocol blocks and faults of FILE."""
    click.echo(describe(file))
