"""``hreflex batch --scheduler ADDRESS`` on a Dask ``LocalCluster``: the same CSV as the
local process pool, the same resumability (up-to-date files skipped) and the same one-line
per-file errors; without dask, a one-line error naming the extra. Skipped when dask
(``distributed``) is not installed, except the no-dask error, which is always checked."""

from __future__ import annotations

import sys

import pytest
from click.testing import CliRunner

from hreflex.batch import cache_dir_for
from hreflex.cli import cli
from hreflex.io.writer import write_session
from tests.batch.test_batch import _rows, _session


def _invoke(args):
    return CliRunner().invoke(cli, ["batch", *map(str, args)])


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """3 good session files and a corrupt one, and the local pool's CSV of them."""
    root = tmp_path_factory.mktemp("dask")
    data = root / "data"
    data.mkdir()
    for i in (0, 1, 3):
        write_session(data / f"s{i:02d}.h5", _session(i)[0])
    (data / "broken.h5").write_bytes(b"\x89HDF\r\n\x1a\n" + b"\x00garbage" * 64)
    local = root / "local.csv"
    result = _invoke([data, "-o", local, "--jobs", 1])
    assert result.exit_code == 1, result.output
    return data, local


@pytest.fixture(scope="module")
def cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, processes=False, threads_per_worker=1,
                                  dashboard_address=None) as c:
        yield c


def test_cluster_gives_the_local_pool_csv_errors_and_skips(files, cluster, tmp_path,
                                                           monkeypatch):
    data, local = files
    out = tmp_path / "cluster.csv"
    result = _invoke([data, "-o", out, "--scheduler", cluster.scheduler_address])
    assert result.exit_code == 1
    errors = result.stderr.splitlines()
    assert errors[0].startswith(f"failed: {data / 'broken.h5'}: ") and len(errors) == 2
    assert "3 analysed, 0 up to date (skipped), 1 failed" in result.stdout
    assert _rows(out) == _rows(local)  # same rows, same order, same numbers
    assert len(list(cache_dir_for(out).glob("*.json"))) == 3
    # resumable: a rerun skips the 3 finished files and tries the failed one again
    import hreflex.batch

    analysed = []
    real = hreflex.batch.analyze_file
    monkeypatch.setattr(hreflex.batch, "analyze_file",
                        lambda path, cfg: analysed.append(path.name) or real(path, cfg))
    again = _invoke([data, "-o", out, "--overwrite", "--scheduler",
                     cluster.scheduler_address])
    assert "0 analysed, 3 up to date (skipped), 1 failed" in again.stdout
    assert analysed == ["broken.h5"]  # (the worker runs in this process: it sees the patch)
    assert _rows(out) == _rows(local)


def test_unreachable_scheduler_is_one_line(files, tmp_path, monkeypatch):
    pytest.importorskip("distributed")
    data, _ = files
    monkeypatch.setattr("hreflex.batch.CONNECT_TIMEOUT_S", 1)  # nothing listens on port 9
    result = _invoke([data, "-o", tmp_path / "x.csv", "--scheduler", "tcp://127.0.0.1:9"])
    assert result.exit_code == 1
    assert result.stderr.startswith("Error: cannot reach the Dask scheduler at "
                                    "tcp://127.0.0.1:9: ") and result.stderr.count("\n") == 1
    assert not (tmp_path / "x.csv").exists()


def test_without_dask_one_line_naming_the_extra(files, tmp_path, monkeypatch):
    data, _ = files
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    result = _invoke([data, "-o", tmp_path / "x.csv", "--scheduler", "tcp://10.0.0.5:8786"])
    assert result.exit_code == 1
    assert result.stderr == ("Error: --scheduler needs the optional dask extra: pip install "
                             "'hreflex[dask]'\n")


def test_jobs_and_scheduler_contradict(files, tmp_path):
    data, _ = files
    result = _invoke([data, "-o", tmp_path / "x.csv", "--jobs", 2, "--scheduler", "tcp://a:1"])
    assert result.exit_code == 1 and result.stderr.startswith("Error: --jobs and --scheduler")
