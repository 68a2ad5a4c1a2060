"""``hreflex analyze`` loads what an option needs only with that option: the TOML parser with
``--config``, the CSV writer (and ``tempfile``/``shutil``) with ``--csv``, the file writer
with ``--store``. Each case runs in a fresh interpreter, as a user's command does."""

from __future__ import annotations

import csv

from tests.analysis.test_lazy_imports import SAMPLE, _probe

#: what a plain ``hreflex analyze FILE -o OUT`` does not need
OPTIONAL = ("tomllib", "csv", "tempfile", "shutil", "hreflex.export.results_csv",
            "hreflex.io.writer", "hreflex.commands.windows_from")


def test_plain_analyze_loads_no_optional_module(tmp_path):
    out = _probe(["analyze", str(SAMPLE), "-o", str(tmp_path / "a.json")])
    assert out["code"] == 0 and (tmp_path / "a.json").exists()
    assert "hreflex.io.lazy" in out["modules"]  # (the probe sees what analyze loads)
    assert not set(OPTIONAL) & set(out["modules"]), sorted(set(OPTIONAL) & set(out["modules"]))


def test_each_option_still_finds_what_it_needs(tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[windows]\nsource = \"auto\"\n", encoding="utf-8")
    out = _probe(["analyze", str(SAMPLE), "--config", str(cfg), "--csv", str(tmp_path / "csv"),
                  "-o", str(tmp_path / "a.json")])
    assert out["code"] == 0
    assert {"tomllib", "csv", "tempfile", "hreflex.export.results_csv"} <= set(out["modules"])
    tables = sorted(p.name for p in (tmp_path / "csv").iterdir())
    assert tables and all(name.endswith(".csv") for name in tables)
    with open(tmp_path / "csv" / tables[0], newline="", encoding="utf-8") as f:
        assert len(list(csv.reader(f))) > 1  # a header and rows
