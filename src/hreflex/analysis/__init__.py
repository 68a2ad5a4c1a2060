"""Analysis of H-reflex sessions: pure functions over sweeps (n_sweeps, n_channels, n_samples).

Entry point::

    from hreflex.analysis import analyze_session, load_config
    result = analyze_session(session, load_config("analysis.toml"))   # or config=None
    result.to_dict()            # the results JSON (docs/METRICS.md)
    result.sweeps.columns()     # the per-sweep table, one row per (sweep, channel)

Steps (one module each): ``epochs`` -> ``conditioning`` -> ``windows`` -> ``measures`` ->
``qc`` -> ``recruitment`` / ``rdd``; ``pipeline`` runs them, ``results`` holds the output.
"""

from hreflex.analysis.config import AnalysisConfig, config_from_dict, load_config
from hreflex.analysis.pipeline import analyze_session
from hreflex.analysis.results import AnalysisResult, ChannelResult, SweepTable

__all__ = [
    "AnalysisConfig", "AnalysisResult", "ChannelResult", "SweepTable", "analyze_session",
    "config_from_dict", "load_config",
]
