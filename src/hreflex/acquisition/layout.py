"""The fixed description a session file is created with (:class:`SessionLayout`).

The same record creates the :class:`~hreflex.io.writer.SessionWriter` when recording starts
and is stored (as JSON) in the header of the raw byte journal, so ``hreflex recover`` can
rebuild the file from the journal alone.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hreflex.io.format import BLOCK_DTYPE, empty_table
from hreflex.io.session import SessionMeta
from hreflex.io.writer import SessionWriter
from hreflex.protocol import DeviceKind, Identity


@dataclass(frozen=True)
class SessionLayout:
    """Everything :class:`SessionWriter` needs: metadata, the EMG clock (``sample_rate_Hz``),
    channels with their V/count scale, the protocol blocks ``(block_id, kind, label)``, the
    requested config TOML and device descriptions (role -> attributes)."""

    meta: SessionMeta
    sample_rate_Hz: float
    channel_names: tuple[str, ...]
    scale_V_per_count: tuple[float, ...]
    channel_muscles: tuple[str, ...] = ()
    blocks: tuple[tuple[int, str, str], ...] = ()
    config_toml: str = ""
    devices: dict[str, dict[str, Any]] = field(default_factory=dict)
    sample_dtype: str = "int16"

    @property
    def n_channels(self) -> int:
        return len(self.channel_names)

    def block_table(self) -> np.ndarray:
        table = empty_table(BLOCK_DTYPE, len(self.blocks))
        for row, (block_id, kind, label) in zip(table, self.blocks, strict=True):
            row["block_id"], row["kind"], row["label"] = block_id, kind.encode(), label.encode()
        return table

    def create_writer(self, path: str | Path, *, swmr: bool = True) -> SessionWriter:
        """A new session file at ``path`` with this layout (SWMR mode for live recording)."""
        return SessionWriter(
            path,
            meta=self.meta,
            sample_rate_Hz=self.sample_rate_Hz,
            channel_names=list(self.channel_names),
            channel_muscles=list(self.channel_muscles) or None,
            scale_V_per_count=np.asarray(self.scale_V_per_count, dtype=np.float64),
            sample_dtype=np.dtype(self.sample_dtype),
            blocks=self.block_table(),
            config_toml=self.config_toml,
            devices=self.devices,
            swmr=swmr,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible form (:meth:`from_dict` inverts it)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SessionLayout:
        d = dict(d)
        d["meta"] = SessionMeta(**d["meta"])
        for key in ("channel_names", "scale_V_per_count", "channel_muscles"):
            d[key] = tuple(d.get(key, ()))
        d["blocks"] = tuple(tuple(b) for b in d.get("blocks", ()))
        return cls(**d)


def session_layout(
    config, plan, *, sample_rate_Hz: float, scale_V_per_count, devices=None
) -> SessionLayout:
    """The layout of a session run from ``config`` (:class:`SessionConfig`) and ``plan``
    (:class:`Plan`), with the clock and scale the amplifier reported at connect time."""
    scale = np.broadcast_to(np.asarray(scale_V_per_count, float), (len(config.channels),))
    return SessionLayout(
        meta=config.meta,
        sample_rate_Hz=float(sample_rate_Hz),
        channel_names=tuple(c.name for c in config.channels),
        scale_V_per_count=tuple(scale.tolist()),
        channel_muscles=tuple(c.muscle for c in config.channels),
        blocks=tuple((b.block_id, b.kind, b.label) for b in plan.schedule.blocks),
        config_toml=config.text,
        devices=dict(devices or {}),
    )


def device_attrs(ident: Identity, port: str) -> dict[str, Any]:
    """The ``/devices/<role>`` attributes of a device from its IDENTITY and the ``port`` it
    was opened on (names and units as in ``docs/FORMAT.md``: limits in mA, µs and Hz)."""
    attrs: dict[str, Any] = {
        "model": ident.model, "serial_number": ident.serial, "port": str(port),
        "firmware": ".".join(map(str, ident.firmware_version)),
        "protocol_version": int(ident.protocol_version)}
    if ident.kind == DeviceKind.AMPLIFIER:
        attrs.update(sample_rate_Hz=float(ident.sample_rate_Hz), adc_bits=int(ident.adc_bits),
                     gain=float(ident.gain), highpass_Hz=float(ident.highpass_Hz),
                     lowpass_Hz=float(ident.lowpass_Hz))
    else:
        attrs.update(max_intensity_mA=ident.max_intensity_uA / 1000.0,
                     max_pulse_width_us=float(ident.max_pulse_width_us),
                     max_rate_Hz=ident.max_rate_mHz / 1000.0)
    return attrs
