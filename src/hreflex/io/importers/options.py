"""What every import takes besides its reader's options, and the checks every import gets.

- Session metadata: ``channel_names``, ``subject_id``, ``session_id``, ``species``, ``nerve``,
  ``condition`` and ``muscle`` — one muscle for every channel, or ``CHANNEL=muscle`` pairs
  (``EMG1=flexor carpi radialis,EMG2=extensor carpi radialis``). They override the file.
- Unit checks on the imported stimuli: an intensity above :data:`INTENSITY_LIMIT_mA` for the
  species or a pulse width outside :data:`PULSE_WIDTH_RANGE_us` is a :class:`SourceWarning`
  naming the field and the unit the import assumed.
- Unit check on the imported EMG: a channel whose largest peak-to-peak over the whole
  recording lies outside :data:`EMG_SPAN_RANGE_mV` is a :class:`SourceWarning` naming the
  channel and the unit its samples were read in (a header saying mV over values in V, or
  amplifier output stored without its gain).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from hreflex.errors import ConfigError
from hreflex.io.importers.origins import Origins, SourceWarning
from hreflex.io.session import Session
from hreflex.species import canonical_species

#: metadata options (applied after reading, in this order)
META_OPTIONS = (
    "channel_names",
    "subject_id",
    "session_id",
    "species",
    "nerve",
    "condition",
    "muscle",
)
#: most a stimulus of that species plausibly has, mA (any other species: the human value)
INTENSITY_LIMIT_mA = {"human": 200.0, "rat": 20.0, "mouse": 20.0}
#: plausible pulse widths, µs
PULSE_WIDTH_RANGE_us = (20.0, 2000.0)
#: plausible largest peak-to-peak of one EMG channel over a whole recording, stimulus artifact
#: included, mV: below it there is neither artifact nor response (values in V read as mV);
#: above it no amplifier or ADC records (values in µV read as mV, or in mV read as V). Amplifier
#: output stored without the gain divided out (EPOCS: µV at the ADC input) stays inside it.
EMG_SPAN_RANGE_mV = (0.1, 10000.0)
_FIELDS = {
    "subject_id": "subject",
    "session_id": "session",
    "species": "species",
    "nerve": "nerve",
    "condition": "condition",
}


def channel_muscles(text: str, names: list[str], source: Path, what: str) -> dict[int, str]:
    """Channel index -> muscle from ``text``: one muscle for every channel, or comma-separated
    ``CHANNEL=muscle`` pairs naming channels of ``names`` (ConfigError naming ``what``)."""
    parts = [p.strip() for p in text.split(",")]
    keyed = ["=" in p for p in parts]
    if not any(keyed):
        return dict.fromkeys(range(len(names)), text.strip())
    if not all(keyed):
        raise ConfigError(
            f"{source}: {what} {text!r} mixes CHANNEL=muscle pairs with plain values; give one "
            "muscle for every channel or CHANNEL=muscle,CHANNEL=muscle"
        )
    out = {}
    for part in parts:
        name, _, muscle = (s.strip() for s in part.partition("="))
        matches = [i for i, n in enumerate(names) if n == name] or [
            i for i, n in enumerate(names) if n.lower() == name.lower()
        ]
        if len(matches) != 1:
            raise ConfigError(
                f"{source}: {what} names channel {name!r}; the channels are {', '.join(names)}"
            )
        out[matches[0]] = muscle
    return out


def set_muscles(session: Session, muscles: dict[int, str]) -> None:
    """Give channels their muscles; the session's muscle is the first channel's given one."""
    for k, muscle in muscles.items():
        session.channel_muscles[k] = muscle
    session.meta.muscle = muscles[min(muscles)] if muscles else session.meta.muscle


def apply_meta(session: Session, options: dict, source: Path) -> None:
    """Apply the metadata ``options`` (not None = given) and note where every metadata value
    came from in the session's provenance."""
    origins = Origins.parse(session.devices.get("source", {}).get("provenance", ""))
    names = options.get("channel_names")
    if names is not None:
        names = names.split(",") if isinstance(names, str) else list(names)
        if len(names) != session.n_channels:
            raise ConfigError(
                f"{source}: --channel-names gives {len(names)} names for "
                f"{session.n_channels} channels"
            )
        session.channel_names = [n.strip() for n in names]
        origins.set("channels", ", ".join(session.channel_names), "option", "--channel-names")
    elif origins.get("channels") is None:  # the reader named them itself
        origins.set("channels", ", ".join(session.channel_names), "default")
    for key, field in _FIELDS.items():
        value = options.get(key)
        if value is not None:
            value = value.strip().lower() if key == "species" else value.strip()
            setattr(session.meta, key, value)
            origins.set(field, value, "option", "--" + key.replace("_", "-"))
        elif origins.get(field) is None and getattr(session.meta, key):
            origin = "default" if key == "species" and session.meta.species == "human" else "header"
            origins.set(field, getattr(session.meta, key), origin)
    if options.get("muscle") is not None:
        set_muscles(
            session, channel_muscles(options["muscle"], session.channel_names, source, "--muscle")
        )
        how = ("option", "--muscle")
    else:
        how = ("header",)
    if any(session.channel_muscles):
        pairs = ", ".join(
            f"{n}={m or '?'}"
            for n, m in zip(session.channel_names, session.channel_muscles, strict=True)
        )
        origins.set("muscles", pairs, *how)
    session.devices.setdefault("source", {})["provenance"] = origins.text()


def check_units(session: Session, source: Path, scalable: bool = True) -> list[str]:
    """Warn (SourceWarning) about stimulus values implausible in the unit they were read in;
    returns the messages. ``scalable``: the importer takes ``--intensity-scale`` (named in the
    message)."""
    origins = Origins.parse(session.devices.get("source", {}).get("provenance", ""))
    stimuli, messages = session.stimuli, []

    def assumed(field: str, unit: str) -> str:
        note = origins.get(field)
        return note[2] if note and note[2] else f"read as {unit}"

    species = canonical_species(session.meta.species) or "human"
    limit = INTENSITY_LIMIT_mA.get(species, INTENSITY_LIMIT_mA["human"])
    high = stimuli["intensity_mA"] > limit
    if high.any():
        messages.append(
            f"{source}: intensity_mA reaches {stimuli['intensity_mA'].max():g} mA "
            f"({int(high.sum())} stimuli above {limit:g} mA, implausible for a {species} "
            f"subject); {assumed('intensity', 'mA')} — check its unit"
            + (" (--intensity-scale)" if scalable else "")
        )
    low, top = PULSE_WIDTH_RANGE_us
    width = stimuli["pulse_width_us"]
    odd = np.isfinite(width) & ((width < low) | (width > top))
    if odd.any():
        messages.append(
            f"{source}: pulse_width_us {width[odd][0]:g} µs is outside {low:g}–{top:g} µs "
            f"({int(odd.sum())} stimuli); {assumed('pulse width', 'µs')} — check its unit"
        )
    units = origins.get("units")
    how = f"read as {units[0]} ({units[2] or units[1]})" if units else "scaled as the file says"
    messages += _emg_span_messages(session, source, how)
    for message in messages:
        warnings.warn(message, SourceWarning, stacklevel=2)
    return messages


def _emg_span_messages(session: Session, source: Path, how: str) -> list[str]:
    """One message per channel whose peak-to-peak over the recording is implausible."""
    data, axes = (session.sweeps, (0, 2)) if session.sweeps is not None else (session.continuous, 0)
    if data is None or not isinstance(data, np.ndarray) or data.size == 0:
        return []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN channel: no span
        high, low = np.nanmax(data, axis=axes), np.nanmin(data, axis=axes)
    # (in float64: a difference of integer counts could overflow)
    span_mV = (high.astype(np.float64) - low) * np.abs(session.scale_V_per_count) * 1e3
    low, top = EMG_SPAN_RANGE_mV
    out = []
    for name, span in zip(session.channel_names, span_mV, strict=True):
        if np.isfinite(span) and not low <= span <= top:
            out.append(
                f"{source}: channel {name} spans {span:.3g} mV peak to peak over the whole "
                f"recording, implausible for EMG ({low:g}–{top:g} mV); its samples were "
                f"{how} — check their unit or gain"
            )
    return out
