"""One CLI convention (README "Conventions"), checked over every registered command by click
introspection: ``-o/--output`` for the main output, ``--overwrite`` wherever something is
written, one spelling per parameter across commands, old spellings hidden but working."""

from __future__ import annotations

import importlib
import re

import click
import pytest
from click.testing import CliRunner

from hreflex.cli import COMMANDS, cli
from hreflex.commands.options import Option, OutputOption

#: commands that only read (``recover`` repairs its SESSION in place: that is its job)
READ_ONLY = {"info", "validate", "ports", "recover"}
#: the spellings every command must use for these parameters
SPELLING = {"output": ["-o", "--output"], "overwrite": ["--overwrite"],
            "config_path": ["--config"], "jobs": ["-j", "--jobs"], "force": ["--force"],
            "sample_rate": ["--sample-rate"], "seed": ["--seed"]}
#: spellings no command may show any more (kept only as hidden aliases)
RETIRED = {"--out", "--fs-hz", "--no-store"}


def _commands() -> dict[str, click.Command]:
    return {name: importlib.import_module(module).command for name, module in COMMANDS.items()}


def _shown(opt: click.Option) -> list[str]:
    return opt.names if isinstance(opt, Option) else opt.opts + opt.secondary_opts


def _options(command: click.Command) -> list[click.Option]:
    return [p for p in command.params if isinstance(p, click.Option) and not p.hidden]


def test_every_registered_command_is_there_and_named_as_registered():
    commands = _commands()
    assert set(commands) == set(cli.list_commands(click.Context(cli)))
    assert all(cmd.name == name for name, cmd in commands.items())


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_outputs_are_dash_o_and_take_overwrite(name):
    command = _commands()[name]
    options = _options(command)
    outputs = [o for o in options if isinstance(o, OutputOption)]
    flags = {n for o in options for n in _shown(o)}
    if name in READ_ONLY:
        assert not outputs and "--overwrite" not in flags
        return
    main = [o for o in outputs if o.name == "output"]
    assert len(main) == 1 and _shown(main[0]) == ["-o", "--output"], name
    assert "--overwrite" in flags, name
    for o in outputs:  # every output is a path (checked against the inputs)
        assert isinstance(o.type, click.Path) or o.name == "plot", (name, o.name)


def test_one_spelling_per_parameter_and_no_retired_ones():
    seen: dict[str, dict[str, list[str]]] = {}
    for name, command in _commands().items():
        for opt in _options(command):
            shown = _shown(opt)
            assert not RETIRED & set(shown), (name, shown)
            assert all(re.fullmatch(r"-[a-z]|--[a-z0-9]+(-[a-z0-9]+)*", s) for s in shown)
            seen.setdefault(opt.name, {})[name] = shown
    for param, spellings in SPELLING.items():
        for name, shown in seen.get(param, {}).items():
            assert shown == spellings, (name, param, shown)
    for param, by_command in seen.items():  # any parameter several commands share
        assert len({tuple(s) for s in by_command.values()}) == 1, (param, by_command)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_help_shows_no_old_spelling_and_old_spellings_still_parse(name):
    command = _commands()[name]
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    for opt in command.params:
        for old in getattr(opt, "old", ()):
            assert not re.search(rf"(^|[\s,]){re.escape(old)}\b", result.output), old
            ctx = command.make_context(name, [old, "1", *_required(command)],
                                       resilient_parsing=True)
            assert ctx.params[opt.name] is not None, old


def _required(command: click.Command) -> list[str]:
    """Values for the required arguments, so a context can be made."""
    return ["x" for p in command.params if isinstance(p, click.Argument) and p.required]


def test_simulate_lists_presets_without_other_options():
    from hreflex.sim.presets import PRESETS

    result = CliRunner().invoke(cli, ["simulate", "--list-presets"])
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.output.splitlines()] == list(PRESETS)


def test_numbers_keep_the_resolution_of_their_unit():
    from hreflex.commands.text import number, number_range

    assert number(10.004, "mV") == "10.004" and number(16.002, "mA") == "16.002"
    assert number(16.0, "mA") == "16" and number(0.00049, "mV") == "0"
    assert number(5.678, "ms") == "5.68" and number(-0.0001, "ms") == "0"
    assert number(None, "Hz") == "-" and number(float("nan"), "Hz") == "-"
    assert number_range(4.0, 16.002, "mA") == "4–16.002 mA"
    assert number_range(1000.0, 1000.0, "µs") == "1000 µs"


def test_summary_prints_the_largest_sweep_where_no_mmax_is_defined():
    from hreflex.commands.text import summary_text

    qc = {"n_excluded": 0, "n_sweeps": 9}
    rec = {"mmax_mV": None, "mmax_observed_mV": 17.8108, "hmax_mV": 2.5,
           "hmax_source": "pooled", "hmax_observed_mV": 3.1}
    doc = {"channels": [{"name": "Left Gastroc", "windows_ms": {"m": (3.12, 34.53), "h": None},
                         "recruitment": rec, "latency_ms": {"m": 3.17, "h": None}, "qc": qc,
                         "rdd": None}]}
    row = summary_text(doc).splitlines()[1].split()
    assert row[6:10] == ["17.811", "o", "2.5", "p"]  # Mmax from the largest sweep; Hmax pooled
    rec.update(mmax_mV=16.0, mmax_source="fit")
    assert summary_text(doc).splitlines()[1].split()[6:8] == ["16", "f"]
    rec.update(mmax_mV=None, mmax_observed_mV=None)
    assert summary_text(doc).splitlines()[1].split()[6] == "-"
