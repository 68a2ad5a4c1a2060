"""The free-space guard: the reserve, when it says the disk is full, the ballast file, and one
line for a write that failed anyway (also when h5py wraps the errno in a RuntimeError)."""

from __future__ import annotations

import errno

import pytest

from hreflex.acquisition.diskspace import (
    BALLAST_BYTES,
    MIN_RESERVE_BYTES,
    DiskGuard,
    reserve_bytes,
    write_error_text,
)
from hreflex.errors import HreflexError


def test_the_reserve_is_two_wall_seconds_of_file_and_journal():
    # 16 ch x 20 kHz in 1 ms blocks: file 33 B/sample (16 x int16 + trigger) = 660 kB/s, the
    # journal the same plus 50 B of framing per block = 710 kB/s; 2 s of both
    assert reserve_bytes(16, 20_000, 1.0, 1000) == 2 * (660_000 + 710_000)
    assert reserve_bytes(16, 20_000, 10.0, 1000) == 10 * 2 * (660_000 + 710_000)
    assert reserve_bytes(1, 1000, 1.0, 1000) == MIN_RESERVE_BYTES  # small sessions


class FakeFree(DiskGuard):
    def __init__(self, path, reserve, free):
        super().__init__(path, reserve)
        self.free = free

    def free_bytes(self) -> int:
        return self.free


def test_low_only_below_the_reserve(tmp_path):
    guard = FakeFree(tmp_path / "s.h5", 2_000_000, 2_000_000)
    assert guard.low() is None
    guard.free = 1_999_999
    assert guard.low() == (f"disk full: 2.0 MB free on the filesystem of {tmp_path / 's.h5'}, "
                           "below the 2.0 MB kept to close the file")


def test_start_refuses_a_nearly_full_disk_and_holds_a_ballast_until_released(tmp_path):
    with pytest.raises(HreflexError, match=r"only 1.0 MB free on its filesystem; a session "
                                           r"needs at least 5.0 MB"):
        FakeFree(tmp_path / "s.h5", 2_000_000, 1_000_000).start()
    assert not (tmp_path / "s.reserve").exists()
    guard = DiskGuard(tmp_path / "s.h5", 1000)
    guard.start()
    assert (tmp_path / "s.reserve").stat().st_size == BALLAST_BYTES
    guard.release()
    guard.release()  # idempotent
    assert not (tmp_path / "s.reserve").exists()


@pytest.mark.parametrize("exc, text", [
    (OSError(errno.ENOSPC, "No space left on device"), "disk full (No space left on device)"),
    (OSError(errno.EDQUOT, "Disk quota exceeded"), "disk full (Disk quota exceeded)"),
    (RuntimeError("Unable to flush dataset (file write failed: time = x\n, filename = 'a.h5', "
                  "file descriptor = 3, errno = 28, error message = 'No space left on device')"),
     "disk full (No space left on device)"),
    (OSError(errno.EIO, "Input/output error"), "write failed (Input/output error)"),
    (ValueError("bad\nsecond line"), "write failed (ValueError: bad)"),
])
def test_write_error_text(exc, text):
    assert write_error_text(exc) == text
