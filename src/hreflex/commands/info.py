"""``hreflex info FILE...``: what session files hold, at a glance (one block per file)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import click


def describe(path: Path) -> str:
    """Multi-line human summary of a session file (validates it first)."""
    import numpy as np

    from hreflex.commands.text import number, number_range
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
        f"layout      {s.layout}, {number(s.sample_rate_Hz, 'Hz')} Hz, "
        f"{number(s.duration_s, 's')} s",
        f"end state   {describe_end_state(end_state)}",
    ]
    if s.sweeps is not None:
        n_sw, _, n_samp = s.sweeps.shape
        lines.append(
            f"sweeps      {n_sw} × {n_samp} samples "
            f"({number(n_samp / s.sample_rate_Hz * 1e3, 'ms')} ms, "
            f"{number(s.pre_trigger_ms, 'ms')} ms pre-trigger)"
        )
    else:
        lines.append(
            f"samples     {len(s.continuous)} ({s.continuous.dtype}, {s.continuous.shape[1]} channels)"
        )
    lines.append(f"channels    {s.n_channels}")
    index_w = len(str(s.n_channels - 1)) + 2
    muscles = [m or "-" for m in s.channel_muscles]
    name_w, muscle_w = max(map(len, s.channel_names)), max(map(len, muscles))
    for i, (name, muscle) in enumerate(zip(s.channel_names, muscles, strict=True)):
        lines.append(f"  {f'[{i}]':<{index_w}} {name:<{name_w}}  {muscle:<{muscle_w}}  "
                     f"{s.scale_V_per_count[i]:.6g} V/count")
    ev = s.stimuli
    lines.append(f"stimuli     {len(ev)}")
    if len(ev):
        text = f"  intensity {number_range(ev['intensity_mA'].min(), ev['intensity_mA'].max(), 'mA')}"
        width = ev["pulse_width_us"][np.isfinite(ev["pulse_width_us"])]
        if len(width):
            text += f", pulse width {number_range(width.min(), width.max(), 'µs')}"
        lines.append(text)
    lines.append(f"blocks      {len(s.blocks)}")
    ids = [f"[{i}]" for i in s.blocks["block_id"]]
    id_w = max(map(len, ids), default=0)
    for b, label in zip(s.blocks, ids, strict=True):
        rows = ev[ev["block_id"] == b["block_id"]]
        freqs = sorted({float(f) for f in rows["nominal_frequency_Hz"] if np.isfinite(f)})
        extra = (f", trains at {', '.join(number(f, 'Hz') for f in freqs)} Hz"
                 if freqs else "")
        lines.append(f"  {label:<{id_w}} {decode_str(b['kind']):<12} "
                     f"{decode_str(b['label'])!r}: {len(rows)} stimuli{extra}")
    kinds = Counter(decode_str(k) for k in s.faults["kind"])
    lost = int(s.faults["n_samples"][s.faults["kind"] == b"gap"].sum())
    faults = ", ".join(f"{k} ×{n}" for k, n in sorted(kinds.items())) or "none"
    lines.append(f"faults      {faults}" + (f" ({lost} samples lost in gaps)" if lost else ""))
    if len(s.annotations):
        lines.append(f"annotations {len(s.annotations)} (excluded sweeps etc.)")
    return "\n".join(lines)


@click.command("info")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def command(files: tuple[Path, ...]) -> None:
    """Show channels, duration, rate, stimuli, protocol blocks and faults of each FILE."""
    from hreflex.errors import HreflexError

    failed = []
    for k, path in enumerate(files):
        try:
            text = describe(path)
        except HreflexError as exc:
            if len(files) == 1:
                raise
            failed.append(path)
            click.echo(str(exc), err=True)
            continue
        click.echo(("\n" if k else "") + text)
    if failed:
        raise HreflexError(f"{len(failed)} of {len(files)} files could not be read (listed "
                           "above)")
