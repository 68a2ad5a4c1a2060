"""Raw byte journal: documented layout, round trip, torn tails, live detection."""

from __future__ import annotations

import json
import struct
import time
import zlib

import numpy as np
import pytest

from hreflex.acquisition.faults import fault_rows
from hreflex.acquisition.journal import (
    SOURCE_CLOCK,
    SOURCE_FAULTS,
    Journal,
    JournalReader,
    is_live,
    journal_path,
    parse_clock,
)
from hreflex.errors import FileFormatError

HEADER = {"sources": {"0": "amplifier", "1": "stimulator"}, "samples_source": 0,
          "layout": {"sample_rate_Hz": 5000.0, "gain": np.float32(2.0)}}


def write_some(path):
    j = Journal(path, HEADER, fsync_interval_s=0.1)
    j.write(0, b"\x01\x02\x00")
    j.write(1, bytearray(b"stim"))
    j.write_rows(SOURCE_FAULTS, fault_rows("frame_error", -1, 0, "1 frame"))
    j.note_clock(0, 1000, 0)
    j.write(0, b"")
    j.close()
    return j


def test_journal_path_is_beside_the_session():
    assert journal_path("data/x.h5").as_posix() == "data/x.journal"


def test_file_layout_matches_the_documentation(tmp_path):
    """Parse the bytes by the layout in the docstring / docs, not with the reader."""
    path = tmp_path / "a.journal"
    t0 = time.time_ns()
    write_some(path)
    raw = path.read_bytes()
    assert raw[:8] == b"HRXJRNL1"
    (n,) = struct.unpack_from("<I", raw, 8)
    body = raw[12 : 12 + n]
    assert struct.unpack_from("<I", raw, 12 + n)[0] == zlib.crc32(body)
    header = json.loads(body)
    assert header["format"] == "hreflex-journal" and header["version"] == 1
    assert header["layout"]["gain"] == 2.0 and header["samples_source"] == 0
    pos, records = 16 + n, []
    while pos < len(raw):
        source, pad, t_ns, size = struct.unpack_from("<B3sqI", raw, pos)
        payload = raw[pos + 16 : pos + 16 + size]
        (crc,) = struct.unpack_from("<I", raw, pos + 16 + size)
        assert pad == b"\0\0\0" and crc == zlib.crc32(raw[pos : pos + 16 + size])
        assert t0 <= t_ns <= time.time_ns()
        records.append((source, payload))
        pos += 16 + size + 4
    assert pos == len(raw)
    assert [s for s, _ in records] == [0, 1, SOURCE_FAULTS, SOURCE_CLOCK, 0]
    assert records[0][1] == b"\x01\x02\x00" and records[1][1] == b"stim"
    assert struct.unpack("<BQq", records[3][1]) == (0, 1000, 0)


def test_reader_round_trip(tmp_path):
    path = tmp_path / "a.journal"
    write_some(path)
    reader = JournalReader(path)
    assert reader.header["sources"] == {"0": "amplifier", "1": "stimulator"}
    recs = list(reader)
    assert [(r.source, r.data) for r in recs][:2] == [(0, b"\x01\x02\x00"), (1, b"stim")]
    assert parse_clock(recs[3].data) == (0, 1000, 0) and reader.tail_bytes == 0
    fault = np.frombuffer(recs[2].data, fault_rows("gap").dtype)
    assert fault["kind"][0] == b"frame_error"


def test_torn_or_corrupt_records_end_the_replay(tmp_path):
    path = tmp_path / "a.journal"
    write_some(path)
    full = path.read_bytes()
    last = 16 + 0 + 4  # the final record has an empty payload
    path.write_bytes(full[:-3])  # torn tail
    reader = JournalReader(path)
    assert len(list(reader)) == 4 and reader.tail_bytes == last - 3
    damaged = bytearray(full)
    second = 16 + struct.unpack_from("<I", full, 8)[0] + 16 + 3 + 4  # start of record 2
    damaged[second + 17] ^= 0xFF  # a payload byte of record 2
    path.write_bytes(bytes(damaged))
    reader = JournalReader(path)
    assert [r.source for r in reader] == [0] and reader.tail_bytes == len(full) - second


def test_bad_headers(tmp_path):
    path = tmp_path / "a.journal"
    path.write_bytes(b"PK\x03\x04 not a journal")
    with pytest.raises(FileFormatError, match="not an hreflex journal"):
        JournalReader(path)
    write_some(tmp_path / "b.journal")
    raw = bytearray((tmp_path / "b.journal").read_bytes())
    raw[20] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(FileFormatError, match="header is truncated or corrupt"):
        JournalReader(path)


def test_live_detection_and_no_overwrite(tmp_path):
    path = tmp_path / "a.journal"
    j = Journal(path, HEADER)
    assert is_live(path)
    with pytest.raises(FileFormatError, match="journal already exists"):
        Journal(path, HEADER)
    j.close()
    assert not is_live(path) and j.n_fsyncs >= 1


def test_fsyncs_periodically_while_written(tmp_path):
    j = Journal(tmp_path / "a.journal", HEADER, fsync_interval_s=0.1)
    t0 = time.monotonic()
    while time.monotonic() - t0 < 0.5:
        j.write(0, b"x" * 100)
        time.sleep(0.005)
    j.close()
    assert j.n_fsyncs >= 3 and j.max_fsync_gap_s < 0.5
