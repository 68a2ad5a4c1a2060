import pytest

from hreflex.errors import ConfigError
from hreflex.io.toml import check_keys, load_toml


def test_load_toml_reads_values(tmp_path):
    p = tmp_path / "a.toml"
    p.write_text('[limits]\nmax_intensity_mA = 40.0\n')
    assert load_toml(p) == {"limits": {"max_intensity_mA": 40.0}}


def test_load_toml_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"missing\.toml: no such file"):
        load_toml(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[limits\nx = 1\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: invalid TOML.*line 1"):
        load_toml(bad)


def test_check_keys_names_the_unknown_key():
    check_keys({"a": 1}, ["a", "b"], "s.toml [x]")
    with pytest.raises(ConfigError, match=r"s\.toml \[x\]: unknown key 'max_intensity_ma'"):
        check_keys({"max_intensity_ma": 1}, ["max_intensity_mA"], "s.toml [x]")


def test_atomic_output_replaces_only_on_success(tmp_path):
    from hreflex.io.files import atomic_output

    out = tmp_path / "r.h5"
    out.write_text("old")
    with pytest.raises(ConfigError, match=r"r\.h5 already exists; pass --overwrite"):
        with atomic_output(out):
            raise AssertionError("the block must not run")
    with pytest.raises(RuntimeError):
        with atomic_output(out, overwrite=True) as partial:
            partial.write_text("half")
            raise RuntimeError("writer failed")
    assert out.read_text() == "old" and not partial.exists()
    with atomic_output(out, overwrite=True) as partial:
        partial.write_text("new")
    assert out.read_text() == "new" and not partial.exists()
