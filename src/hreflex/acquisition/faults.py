"""The fault kinds a recording writes to ``/faults``, with what each means (the table in
``docs/FORMAT.md`` lists exactly these; a test checks it), and :func:`fault_rows`, the only
way acquisition makes a fault row, which refuses a kind that is not listed here."""

from __future__ import annotations

import numpy as np

from hreflex.io.format import FAULT_DTYPE, empty_table

#: kind -> meaning. ``gap`` is the one kind that marks rows as not recorded (zero-filled);
#: the rows that say why samples are missing (``link_loss``, ``device_loss``,
#: ``device_reset``, ``disconnect``...) cover the same samples and never replace it.
FAULT_KINDS: dict[str, str] = {
    # samples (recorder: derived from the sample indices, also by ``hreflex recover``)
    "gap": "rows sample_start … sample_start + n_samples − 1 were not received: zero-filled",
    "overlap": "samples for rows already written arrived again; dropped",
    "clock_jump": "a block far ahead of the stream (a corrupt index); dropped, not zero-filled",
    # why samples are missing (engine: from the block sequence numbers)
    "link_loss": "blocks lost in transit or rejected by the receiver's checks (block sequence "
                 "jumped): their samples are missing",
    "device_loss": "the amplifier failed to store these samples itself (sequence continuous, "
                   "sample index jumped; STATUS dropped_samples)",
    "frame_error": "amplifier frames rejected by the receiver's checks, counted per check "
                   "(oversize, cobs, too_short, crc, version, type, malformed, truncated)",
    "bad_block": "sample blocks with another channel count than configured; dropped",
    "device_reset": "the amplifier restarted its sample clock by itself while streaming",
    "restart": "the amplifier was configured and started again after a reconnect",
    "clock_restart": "the stimulator clock stopped matching the EMG clock; synchronisation "
                     "starts again",
    "device_index": "a STIM_EVENT sample_index far from where the host saw the pulse go out; "
                    "ignored for that pulse",
    # device links
    "disconnect": "a device's port failed (read or write)",
    "reconnect": "the port of a disconnected device opened again",
    "lost": "a device did not come back within reconnect_timeout_s",
    "stall": "no bytes from the amplifier for stall_timeout_s while streaming",
    "stall_end": "bytes from the amplifier again after a stall",
    "error": "a device link's reader failed",
    "timeout": "device requests without an answer in time (each retried)",
    "heartbeat_missed": "stimulator heartbeats without an answer",
    "stimulator_frame_error": "stimulator frames rejected by the receiver's checks",
    # stimulation
    "nack": "a device refused a command (the reason is in detail)",
    "command_failed": "a stimulator command got no answer; set up and tried again",
    "no_response": "FIRE got no answer, but the pulse was delivered",
    "fire_failed": "FIRE got no answer and no pulse was delivered; tried again",
    "no_event": "a delivered pulse without a STIM_EVENT (placed by the trigger)",
    "unplanned_pulse": "the stimulator reported a pulse this session did not fire",
    "watchdog": "the stimulator's watchdog disarmed it (no heartbeat in time); re-armed",
    # the session
    "hangup": "the controlling terminal closed (SIGHUP); the session went on without output",
    "stop": "the session stopped before the end of the plan (the reason is in detail)",
    "shutdown": "a step of the safe shutdown failed (e.g. DISARM not confirmed)",
}


#: decoder gap kind (``hreflex.protocol.Gap.kind``) -> (fault kind, why the samples are missing)
GAP_CAUSES: dict[str, tuple[str, str]] = {
    "gap": ("link_loss", "lost on the link (blocks lost in transit or rejected)"),
    "clock": ("device_loss", "not stored by the amplifier itself"),
}


def fault_rows(kind: str, sample_start: int = -1, n_samples: int = 0,
               detail: str = "") -> np.ndarray:
    """One ``FAULT_DTYPE`` row (``detail`` cut to the field's 128 bytes)."""
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r} (add it to FAULT_KINDS and FORMAT.md)")
    row = empty_table(FAULT_DTYPE, 1)
    row[0] = (kind.encode(), sample_start, n_samples,
              detail.encode()[:128].decode("utf-8", "ignore").encode())
    return row
