"""Every format the optional ``neo`` package reads (Spike2 .smr, Axon .abf, BrainVision,
…), through ``neo.io.get_io``.

One segment -> a continuous session: EMG channels from the analog signals, stimuli from an
event channel (its times) or an analog trigger channel (rising edges). Several segments
(episodic recordings, e.g. .abf sweeps) -> an epoched session, one sweep per segment.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from hreflex.errors import ConfigError, FileFormatError
from hreflex.io.importers.build import (
    as_number,
    continuous_session,
    epoched_session,
    intensity_factor,
    no_scale_for_constant,
    read_as,
    read_numbers,
    rising_edges,
    volts_per_unit,
)
from hreflex.io.importers.origins import Origins
from hreflex.io.session import Session


def neo_extensions() -> set[str]:
    """File extensions (lower case, no dot) some installed neo IO reads; empty without neo."""
    try:
        import neo.io
    except ImportError:
        return set()
    return {ext.lower() for io in neo.io.iolist for ext in io.extensions}


def _channels(segment) -> dict[str, tuple[np.ndarray, float, float, float | None]]:
    """Analog channel name -> (samples as stored, rate_Hz, t_start_s, volts per stored unit,
    None when the file gives no voltage unit)."""
    import quantities as pq

    out = {}
    for k, sig in enumerate(segment.analogsignals):
        names = sig.array_annotations.get("channel_names")
        if names is None or len(names) != sig.shape[1]:
            base = sig.name or f"signal{k}"
            names = [base] if sig.shape[1] == 1 else [f"{base}:{i}" for i in range(sig.shape[1])]
        is_volts = sig.units.dimensionality.simplified == pq.V.dimensionality.simplified
        factor = float((1.0 * sig.units).rescale("V").magnitude) if is_volts else None
        rate, t0 = float(sig.sampling_rate.rescale("Hz")), float(sig.t_start.rescale("s"))
        for i, name in enumerate(names):
            out[str(name)] = (np.asarray(sig.magnitude[:, i]), rate, t0, factor)
    return out


def _intensity(source, intensity, intensity_file, scale, origins) -> np.ndarray | float:
    """A sidecar's values × ``scale`` (mA per stored unit), else a constant (mA)."""
    if intensity_file is not None:
        factor = intensity_factor(scale, source)
        detail = f"--intensity-file ({read_as(factor)})"
        origins.set("intensity", Path(intensity_file).name, "option", detail)
        return read_numbers(Path(intensity_file)) * factor
    if as_number(intensity) is not None:
        no_scale_for_constant(scale, source)
        origins.set("intensity", f"{float(intensity):g} mA", "option", "--intensity (read as mA)")
        return float(intensity)
    raise ConfigError(f"{source}: give --intensity (a constant in mA) or --intensity-file")


def _onsets(source, trigger, threshold, events, channels, t0, rate):
    """``(onset samples, trigger line or None)`` from an event channel's times or an analog
    channel's rising edges (``threshold`` in its units, default half-way)."""
    if trigger in events:
        times_s = events[trigger].rescale("s").magnitude
        return np.round((times_s - t0) * rate).astype(np.int64), None
    if trigger in channels:
        x = channels[trigger][0]
        line = x > (0.5 * (x.min() + x.max()) if threshold is None else threshold)
        return rising_edges(line, 0.5), line
    raise FileFormatError(
        f"{source}: trigger {trigger!r} is neither an event channel "
        f"({', '.join(events) or 'none'}) nor an analog channel ({', '.join(channels)})"
    )


def _read_block(source: Path):
    try:
        import neo.io
    except ImportError:
        raise ConfigError(
            f"{source}: reading this format needs the optional neo extra "
            "(pip install 'hreflex[neo]')"
        ) from None
    try:
        io = neo.io.get_io(str(source))
        return type(io).__name__, io.read_block(lazy=False)
    except Exception as exc:  # neo raises many kinds; report them as a bad file
        raise FileFormatError(
            f"{source}: neo could not read it ({type(exc).__name__}: {exc})"
        ) from None


def read_neo(
    path: str | Path,
    *,
    signal: str | None = None,
    trigger: str | None = None,
    trigger_threshold: float | None = None,
    intensity: str | None = None,
    intensity_file: str | Path | None = None,
    pre_ms: float | None = None,
    units: str | None = None,
    intensity_scale: float | None = None,
    pulse_width_us: float | None = None,
) -> Session:
    """Import a file neo reads.

    ``signal``: comma-separated channel names to keep as EMG (default: every analog channel
    but the trigger). ``trigger`` (one segment): an event channel name or an analog channel
    name (threshold ``trigger_threshold`` in its units, default half-way); default: the only
    event channel. ``pre_ms``: for several segments, the time from a sweep's start to its
    stimulus. ``units`` (V, mV, uV) applies only to channels without voltage units in the
    file. Intensity: a constant (``intensity``, mA) or ``intensity_file`` (one per stimulus,
    × ``intensity_scale`` mA per stored unit, default 1).
    """
    source = Path(path)
    reader, block = _read_block(source)
    segments = [s for s in block.segments if s.analogsignals]
    if not segments:
        raise FileFormatError(f"{source}: no analog signals in the file")
    origins = Origins()
    current = _intensity(source, intensity, intensity_file, intensity_scale, origins)
    if pulse_width_us is not None:
        origins.set(
            "pulse width", f"{pulse_width_us:g} µs", "option", "--pulse-width-us (read as µs)"
        )
    scale = volts_per_unit(units or "V", source)
    channels = _channels(segments[0])
    events = {ev.name or f"events{k}": ev for k, ev in enumerate(segments[0].events) if ev.size}
    trigger, wanted = _pick_channels(
        source, signal, trigger, channels, events, len(segments), origins
    )
    rate, t0 = channels[wanted[0]][1], channels[wanted[0]][2]
    description = {"system": "neo", "reader": reader}

    def emg(seg_channels: dict) -> np.ndarray:
        """(n_samples, n_wanted) volts."""
        if any(w not in seg_channels for w in wanted):
            raise FileFormatError(f"{source}: segments differ in their channels")
        cols = [seg_channels[w][0] * (seg_channels[w][3] or scale) for w in wanted]
        return np.stack(cols, axis=1)

    if len(segments) > 1:
        if pre_ms is None:
            raise ConfigError(f"{source}: {len(segments)} segments (sweeps): give --pre-ms")
        sweeps = [emg(_channels(seg)).T for seg in segments]
        if len({s.shape for s in sweeps}) != 1:
            raise FileFormatError(f"{source}: segments differ in length; expected equal sweeps")
        return epoched_session(
            source,
            np.stack(sweeps),
            rate,
            pre_ms,
            current,
            pulse_width_us=pulse_width_us,
            channel_names=wanted,
            description={**description, "provenance": origins.text()},
        )
    onsets, line = _onsets(source, trigger, trigger_threshold, events, channels, t0, rate)
    return continuous_session(
        source,
        emg(channels),
        rate,
        onsets,
        current,
        pulse_width_us=pulse_width_us,
        trigger=line,
        channel_names=wanted,
        description={**description, "trigger": trigger, "provenance": origins.text()},
    )


def _pick_channels(
    source: Path,
    signal: str | None,
    trigger: str | None,
    channels: dict,
    events: dict,
    n_segments: int,
    origins: Origins,
) -> tuple[str | None, list[str]]:
    """The trigger's name (default: the only event channel of a one-segment file) and the EMG
    channels to keep (``signal``, default every analog channel but the trigger), noted in
    ``origins``; raises when a channel is missing or they differ in rate or length."""
    names = list(channels)
    if trigger is None and n_segments == 1:
        if len(events) != 1:
            raise ConfigError(
                f"{source}: give --trigger (event channels: {', '.join(events) or 'none'}; "
                f"analog channels: {', '.join(names)})"
            )
        trigger = next(iter(events))
        origins.set("trigger", f"event channel {trigger}", "default", "the only event channel")
    elif trigger is not None:
        origins.set("trigger", trigger, "option", "--trigger")
    wanted = signal.split(",") if signal else [n for n in names if n != trigger]
    missing = [w for w in wanted if w not in channels]
    if missing:
        raise FileFormatError(
            f"{source}: no analog channel {missing[0]!r}; channels: {', '.join(names)}"
        )
    if len({(len(channels[w][0]), channels[w][1]) for w in wanted}) != 1:
        raise FileFormatError(f"{source}: channels {', '.join(wanted)} differ in rate or length")
    how = ("option", "--signal") if signal else ("default", "every analog channel but the trigger")
    origins.set("channels", ", ".join(wanted), *how)
    return trigger, wanted
