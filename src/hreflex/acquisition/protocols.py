"""The ``[[protocols]]`` sections of a session config: the three protocol records
(:class:`Recruitment`, :class:`Rdd`, :class:`Fixed`) and their parser (schema:
``docs/ACQUISITION.md``, "Protocols"). :mod:`hreflex.acquisition.config` reads the rest of the
file and calls :func:`parse_protocols`; every problem raises one-line :class:`ConfigError`
naming the file, the table and the key.
"""

from __future__ import annotations

from dataclasses import dataclass

from hreflex.acquisition.table import Table
from hreflex.errors import ConfigError

#: most stimuli a session (and any count key) may plan
MAX_STIMULI = 1_000_000
#: longest interval, rest, gap or wait a config may ask for (one day), s
MAX_INTERVAL_S = 86_400.0


@dataclass(frozen=True)
class Recruitment:
    label: str
    intensities_mA: tuple[float, ...]
    sweeps: int
    isi_s: float
    jitter_s: float
    randomize: bool
    pulse_width_us: float
    kind: str = "recruitment"
    intensity_key: str = "intensities_mA"  # the key the intensities came from (for messages)


@dataclass(frozen=True)
class DerivedIntensity:
    """An intensity resolved at run time: the one giving ``h_fraction`` × Hmax on the ascending
    limb of the H recruitment curve measured in block ``source_block`` (index into protocols)."""

    source_block: int
    h_fraction: float


@dataclass(frozen=True)
class Rdd:
    label: str
    frequencies_Hz: tuple[float, ...]
    pulses_per_train: int
    rest_s: float
    test_intensity_mA: float | DerivedIntensity
    randomize: bool
    pulse_width_us: float
    kind: str = "rdd"


@dataclass(frozen=True)
class Fixed:
    label: str
    intensity_mA: float
    n_stimuli: int
    isi_s: float
    jitter_s: float
    pulse_width_us: float
    kind: str = "fixed"


Protocol = Recruitment | Rdd | Fixed


def _intensities(t: Table) -> tuple[float, ...]:
    from hreflex.schedule import intensity_levels

    has_list = t.has("intensities_mA")
    has_range = [t.has(k) for k in ("start_mA", "stop_mA", "step_mA")]
    if has_list and any(has_range):
        raise ConfigError(f"{t.where}: give intensities_mA or start_mA/stop_mA/step_mA, not both")
    if has_list:
        return t.numbers("intensities_mA", ge=0)
    if not all(has_range):
        raise ConfigError(f"{t.where}: give intensities_mA or all of start_mA, stop_mA, step_mA")
    start = t.number("start_mA", ge=0)
    stop = t.number("stop_mA", ge=start)
    step = t.number("step_mA", gt=0)
    if (stop - start) / step >= MAX_STIMULI:
        raise t.fail("step_mA", f"= {step:g} makes more than {MAX_STIMULI} intensities from "
                                f"{start:g} to {stop:g} mA")
    return tuple(intensity_levels(start, stop, step).tolist())


def _derived(t: Table, earlier: list[Protocol]) -> DerivedIntensity:
    d = t.sub("test_intensity", section=f"{t.where.removeprefix(t.source).strip()} test_intensity")
    source = d.text("from")
    fraction = d.number("h_fraction", gt=0, le=1)
    d.finish()
    candidates = [
        i for i, p in enumerate(earlier)
        if p.kind == "recruitment" and source in ("recruitment", p.label)
    ]
    if not candidates:
        raise d.fail(
            "from", f"= {source!r} needs an earlier recruitment protocol "
            '("recruitment" = the latest one, or its label)'
        )
    return DerivedIntensity(candidates[-1], fraction)


def _protocol(t: Table, earlier: list[Protocol]) -> Protocol:
    kind = t.text("kind", choices=("recruitment", "rdd", "fixed"))
    t.where = f"{t.where} ({kind})"
    label = t.text("label", kind)
    pw = t.number("pulse_width_us", 1000.0, ge=1)
    count = {"ge": 1, "le": MAX_STIMULI, "integer": True}
    interval = {"le": MAX_INTERVAL_S}
    if kind == "recruitment":
        levels = _intensities(t)
        return Recruitment(
            label, levels, t.number("sweeps", 4, **count),
            t.number("isi_s", gt=0, **interval), t.number("jitter_s", 0.0, ge=0, **interval),
            t.flag("randomize", False), pw,
            intensity_key="intensities_mA" if "intensities_mA" in t.data else "stop_mA",
        )
    if kind == "fixed":
        return Fixed(
            label, t.number("intensity_mA", ge=0), t.number("n_stimuli", **count),
            t.number("isi_s", gt=0, **interval), t.number("jitter_s", 0.0, ge=0, **interval),
            pw,
        )
    if t.has("test_intensity_mA") == t.has("test_intensity"):
        raise ConfigError(f"{t.where}: give exactly one of test_intensity_mA or test_intensity")
    test = (
        t.number("test_intensity_mA", ge=0) if "test_intensity_mA" in t.data
        else _derived(t, earlier)
    )
    return Rdd(
        label, t.numbers("frequencies_Hz", ge=1 / MAX_INTERVAL_S),
        t.number("pulses_per_train", 10, ge=2, le=MAX_STIMULI, integer=True),
        t.number("rest_s", 30.0, ge=0, **interval), test, t.flag("randomize", False), pw,
    )


def parse_protocols(root: Table) -> tuple[Protocol, ...]:
    """Every ``[[protocols]]`` table of ``root``, in order (a derived test intensity may
    refer to an earlier recruitment block)."""
    out: list[Protocol] = []
    for t in root.items("protocols", "[[protocols]]"):
        out.append(_protocol(t, out))
        t.finish()
    return tuple(out)
