"""Bad configuration files and manifests: session configs (``acquire --dry-run``), analysis
configs (``analyze --config``) and comparison manifests (``compare``). Each case is
``(id, text of the file, the words the error must name)``; session-config cases are edits of
``configs/soleus_recruitment.toml``."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SESSION = (REPO / "configs" / "soleus_recruitment.toml").read_text(encoding="utf-8")


def _session(old: str, new: str) -> str:
    assert old in SESSION, old
    return SESSION.replace(old, new, 1)


#: session config (id, text, needle)
SESSION_CASES = [
    ("truncated", SESSION[: len(SESSION) // 2], "session.toml"),
    ("truncated-in-a-string", SESSION[: SESSION.index('"S01"') + 3], "invalid TOML"),
    ("not-toml", "this is : not = [toml\n", "invalid TOML"),
    ("binary", "\x00\x01\x02\x03" * 20, "session.toml"),
    ("empty", "", "session.toml"),
    ("intensity-text", _session("max_intensity_mA = 60", 'max_intensity_mA = "sixty"'),
     "max_intensity_mA"),
    ("intensity-nan", _session("max_intensity_mA = 60", "max_intensity_mA = nan"),
     "max_intensity_mA"),
    ("intensity-inf", _session("max_intensity_mA = 60", "max_intensity_mA = inf"),
     "max_intensity_mA"),
    ("intensity-negative", _session("max_intensity_mA = 60", "max_intensity_mA = -5"),
     "max_intensity_mA"),
    ("max-stimuli-1e300", _session("max_stimuli = 200", "max_stimuli = 1e300"), "max_stimuli"),
    ("max-stimuli-fraction", _session("max_stimuli = 200", "max_stimuli = 2.5"), "max_stimuli"),
    ("rate-1MHz", _session("sample_rate_Hz = 5000", "sample_rate_Hz = 1000000"),
     "sample_rate_Hz"),
    ("rate-text", _session("sample_rate_Hz = 5000", 'sample_rate_Hz = "fast"'),
     "sample_rate_Hz"),
    ("rate-nan", _session("sample_rate_Hz = 5000", "sample_rate_Hz = nan"), "sample_rate_Hz"),
    ("block-4096", _session("samples_per_block = 5", "samples_per_block = 4096"),
     "samples_per_block"),
    ("pulse-width-inf", _session("max_pulse_width_us = 1000", "max_pulse_width_us = inf"),
     "max_pulse_width_us"),
    ("step-0", _session("step_mA = 2", "step_mA = 0"), "step_mA"),
    ("stop-above-limit", _session("stop_mA = 50", "stop_mA = 90"), "mA"),
    ("isi-negative", _session("isi_s = 8 ", "isi_s = -8 "), "isi_s"),
    ("sweeps-text", _session("sweeps = 4", 'sweeps = "four"'), "sweeps"),
    ("seed-beyond-64-bits", _session("[recording]", "[schedule]\nseed = 36893488147419103232\n"
                                     "\n[recording]"), "seed"),
    ("seed-negative", _session("[recording]", "[schedule]\nseed = -1\n\n[recording]"), "seed"),
    ("unknown-key", _session("max_stimuli = 200", "max_stimuli = 200\nmax_stimulii = 3"),
     "max_stimulii"),
    ("unknown-protocol", _session('kind = "recruitment"', 'kind = "ramp"'), "kind"),
    ("channel-list-wrong-type", _session('name = "SOL"', "name = 5"), "name"),
    ("no-channels", SESSION.replace("[[channels]]", "[[channels_]]"), "channels"),
    ("window-reversed", _session("M_window_ms = [6, 20]", "M_window_ms = [20, 6]"),
     "M_window_ms"),
    ("gating-unknown-channel", _session('channel = "SOL"', 'channel = "TA"'), "TA"),
    ("heartbeat-nan", _session("heartbeat_timeout_ms = 1000", "heartbeat_timeout_ms = nan"),
     "heartbeat_timeout_ms"),
]

#: analysis config (id, text, needle)
ANALYSIS_CASES = [
    ("truncated", '[windows]\nactivity = "', "analysis.toml"),
    ("not-toml", "amplitude: p2p\n", "invalid TOML"),
    ("binary", "\x00\xff" * 30, "analysis.toml"),
    ("amplitude-number", "amplitude = 5\n", "amplitude"),
    ("amplitude-unknown", 'amplitude = "loudness"\n', "amplitude"),
    ("unknown-section", "[windowz]\nx = 1\n", "windowz"),
    ("unknown-key", "[windows]\nactivity = 3\n", "activity"),
    ("notch-q-0", "[conditioning]\nnotch_q = 0\n", "notch_q"),
    ("notch-q-nan", "[conditioning]\nnotch_q = nan\n", "notch_q"),
    ("min-r2-5", "[recruitment]\nmin_r2 = 5\n", "min_r2"),
    ("min-r2-inf", "[recruitment]\nmin_r2 = inf\n", "min_r2"),
]

#: manifest (id, text, needle in the Error line or, for row problems, in the output)
MANIFEST_CASES = [
    ("empty", "", "manifest"),
    ("header-only", "file,subject,condition\n", "m.csv"),
    ("missing-columns", "path,subj,condition\nx.h5,S1,pre\n", "'file', 'subject'"),
    ("truncated-row", "file,subject,condition\ns1.h5,S1,pre\ns2.h5,S", "m.csv"),
    ("binary", "\x00\x01\x02" * 40, "m.csv"),
    ("duplicate-column", "file,subject,condition,Subject\ns1.h5,S1,pre,S1\n", "subject"),
    ("files-missing", "file,subject,condition\ngone.h5,S1,pre\nalso.h5,S1,post\n", "gone.h5"),
    ("not-session-files", "file,subject,condition\nnotes.txt,S1,pre\nnotes.txt,S1,post\n",
     "notes.txt"),
    ("one-level", "file,subject,condition\ns1.h5,S1,pre\ns2.h5,S2,pre\n", "pre"),
    ("by-column-missing", "file,subject,group\ns1.h5,S1,a\ns2.h5,S2,b\n", "condition"),
]
