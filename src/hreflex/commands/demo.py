"""``hreflex demo [-o DIR]``: a complete simulated session, end to end.

Runs ``configs/demo.toml`` (emulated amplifier and stimulator on pty serial ports, faster than
real time) through the real acquisition engine: recruitment, then RDD at a test intensity
derived from it; then analyses the session file and writes the report. Everything goes to
``DIR`` (default ``./hreflex-demo/``). Output that cannot be written (``hreflex demo | head``,
a closed terminal) is dropped and never stops the session; exit statuses as ``acquire``.
"""

from __future__ import annotations

import dataclasses
import json
import signal
import time
from pathlib import Path

import click

import hreflex
from hreflex.commands import options

#: the demo configuration shipped with the source tree
DEMO_CONFIG = Path(hreflex.__file__).resolve().parents[2] / "configs" / "demo.toml"


@click.command("demo")
@options.output("Folder for the session file, its journal, the analysis and the report.",
                folder=True, default=Path("hreflex-demo"), old=("--out",))
@click.option("--config", "config_path", type=click.Path(dir_okay=False, path_type=Path),
              default=None, help="Another session config with emulated devices "
                                 "(default: configs/demo.toml).")
@click.option("--plot", is_flag=True, help="Also render the live plot PNG while recording.")
@options.overwrite
def command(output: Path, config_path: Path | None, plot: bool, overwrite: bool) -> None:
    """Run a simulated session on emulated devices, analyse it and write the report."""
    from hreflex.acquisition.config import load_config
    from hreflex.acquisition.console import echo
    from hreflex.analysis import analyze_session
    from hreflex.commands.acquire import run_live
    from hreflex.commands.text import summary_text
    from hreflex.errors import ConfigError
    from hreflex.io.files import check_output, file_sha256, write_output
    from hreflex.io.session import read_session
    from hreflex.report import render_report
    from hreflex.report.build import REPORT_NAME

    if hasattr(signal, "SIGHUP"):  # a closed terminal stops neither the session nor the rest
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    t0 = time.monotonic()
    path = config_path or DEMO_CONFIG
    if not path.is_file():
        raise ConfigError(f"demo config {path} not found; pass --config with a session config "
                          "whose devices are emulated")
    out_dir, report_dir = output, output / "report"
    check_output(report_dir / REPORT_NAME, inputs=[path], overwrite=overwrite)  # up front
    cfg = load_config(path)
    if not (cfg.amplifier.connection.emulated and cfg.stimulator.connection.emulated):
        raise ConfigError(f"{cfg.source}: the demo needs emulated = true for both devices")
    # faster than real time, the host's pauses count speed-fold on the device clock: keep the
    # stimulator watchdog at ≥ 0.5 s of wall time (1 s of device time is 0.1 s at 10 x)
    stim = cfg.stimulator
    heartbeat_ms = min(60_000, max(stim.heartbeat_timeout_ms,
                                   int(500 * cfg.emulator.speed_factor)))
    cfg = dataclasses.replace(
        cfg, recording=dataclasses.replace(cfg.recording, output_dir=out_dir,
                                           overwrite=cfg.recording.overwrite or overwrite),
        stimulator=dataclasses.replace(stim, heartbeat_timeout_ms=heartbeat_ms))
    echo(f"demo: {cfg.source} on emulated devices ({cfg.emulator.preset}, "
         f"{cfg.emulator.speed_factor:g}× real time) -> {out_dir}/", err=True)
    result = run_live(cfg, plot="" if plot else None)

    session = read_session(result.path)
    analysis = analyze_session(session, input_info={"path": str(result.path),
                                                    "sha256": file_sha256(result.path)})
    doc = analysis.to_dict()
    json_path = result.path.with_suffix(".analysis.json")
    write_output(json_path, json.dumps(doc, indent=1, ensure_ascii=False), inputs=[path])
    echo(summary_text(doc))
    report = render_report(session, analysis, report_dir, overwrite=overwrite)
    echo(f"analysis  {json_path}")
    echo(f"report    {report}")
    echo(f"done in {time.monotonic() - t0:.1f} s")
