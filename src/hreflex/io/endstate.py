"""How a session file ended: the root attribute ``end_state`` (``docs/FORMAT.md``).

A writer sets ``recording`` when it creates the file and replaces it when it closes the file:
``completed`` (everything planned was written), ``stopped: <reason>`` (the session ended early
and says why) or, written by ``hreflex recover``, ``recovered after crash``. A file still
saying ``recording`` is being recorded now or its writer died. Files written before the
attribute existed (or by other tools) have none: nothing is known about how they ended.
"""

from __future__ import annotations

import h5py

ATTR = "end_state"
RECORDING = "recording"
COMPLETED = "completed"
RECOVERED = "recovered after crash"
STOPPED_PREFIX = "stopped: "


def stopped(reason: str) -> str:
    """The end state of a session that stopped early for ``reason`` (one line)."""
    return STOPPED_PREFIX + " ".join(str(reason).split())


def read_end_state(f: h5py.File) -> str | None:
    """The ``end_state`` of an open file, or None when the file has none."""
    value = f.attrs.get(ATTR)
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def end_state_warning(state: str | None) -> str | None:
    """What a reader should be told about ``state`` (None: nothing to say)."""
    if state is None or state == COMPLETED:
        return None
    if state == RECORDING:
        return ("end_state is 'recording': the file is being recorded now, or its writer was "
                "killed (run 'hreflex recover' on it)")
    if state == RECOVERED:
        return ("end_state is 'recovered after crash': the writer died; 'hreflex recover' "
                "finished the file from what was recorded")
    return f"end_state is {state!r}: the session ended early"


def describe_end_state(state: str | None) -> str:
    """One line for ``hreflex info``."""
    if state is None:
        return "not recorded (written by an older hreflex or another tool)"
    if state == RECORDING:
        return "recording (being recorded now, or the writer died: run 'hreflex recover')"
    return state
