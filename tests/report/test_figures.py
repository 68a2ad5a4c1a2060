"""The figure functions draw on Axes the caller owns, and put every mark where the analysis
result says (and so near the simulator truth)."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.collections import LineCollection

from hreflex.analysis import analyze_session
from hreflex.report import figures as fg
from hreflex.report.build import overlay_sweeps
from tests.report.simdata import short_session


@pytest.fixture(scope="module")
def analysed():
    session, truth = short_session("soleus_healthy")
    return session, truth, analyze_session(session)


def _labelled(ax, prefix):
    return [line for line in ax.get_lines() if line.get_label().startswith(prefix)]


def test_recruitment_and_h_vs_m_share_a_callers_figure(analysed):
    session, truth, result = analysed
    sw, ch = result.sweeps, result.channels[0]
    rec = ch.recruitment
    sel = sw.recruitment & ~sw.excluded[:, 0]
    fig, (left, right) = fg.new_figure(12, 4, ncols=2)
    args = (rec, sw.intensity_mA[sel], sw.m.p2p_mV[sel, 0], sw.h.p2p_mV[sel, 0])
    fg.recruitment_curve(left, *args)
    fg.h_vs_m(right, *args)
    (mmax,) = _labelled(left, "Mmax")
    assert mmax.get_ydata() == pytest.approx([rec.mmax_mV] * 2)
    (star,) = _labelled(left, "Hmax")
    assert star.get_xdata() == pytest.approx([rec.intensity_at_hmax_mA])
    assert star.get_ydata() == pytest.approx([rec.hmax_mV])
    for wave, value in (("M", rec.m_threshold_mA), ("H", rec.h_threshold_mA)):
        (thr,) = _labelled(left, f"{wave} threshold")
        assert thr.get_xdata() == pytest.approx([value] * 2)
    t = truth.channels[0]
    assert star.get_xdata()[0] == pytest.approx(t.intensity_at_Hmax_mA, abs=2.0)
    (fit,) = _labelled(left, "M fit")
    assert fit.get_ydata()[-1] == pytest.approx(truth.level_means()[1][-1, 0], rel=0.03)
    # H vs M in % Mmax: the Hmax star sits at (M at Hmax, Hmax/Mmax), both in %
    (star,) = _labelled(right, "Hmax")
    assert star.get_ydata() == pytest.approx([100 * rec.hmax_mmax])
    assert right.get_xlabel() == "M-wave (% Mmax)"
    assert len(fig.axes) == 3  # the two panels and the intensity colour bar
    assert left.get_ylabel() == "p2p amplitude (mV)"


def test_sweep_overlay_draws_the_included_sweeps_and_shades_the_windows(analysed):
    session, truth, result = analysed
    sw, ch = result.sweeps, result.channels[0]
    time_ms, data_mV = overlay_sweeps(session, result, 60.0)
    shown = sw.recruitment & ~sw.excluded[:, 0]
    fig, (ax,) = fg.new_figure(9, 4)
    fg.sweep_overlay(ax, time_ms, data_mV[shown, 0], sw.intensity_mA[shown], ch.windows,
                     (-6.0, 60.0))
    (lines,) = [c for c in ax.collections if isinstance(c, LineCollection)]
    assert len(lines.get_segments()) == shown.sum() == 24
    assert np.array_equal(lines.get_array(), np.sort(sw.intensity_mA[shown]))
    spans = {p.get_label().split(" ")[0]: p.get_x() for p in ax.patches}
    assert spans["M"] == ch.windows.m.start_ms and spans["H"] == ch.windows.h.start_ms
    # y range: the largest response (an M near Mmax, p2p 8 mV), not the artifact
    top = ax.get_ylim()[1]
    assert 0.5 * truth.channels[0].Mmax_mV < top < 1.2 * truth.channels[0].Mmax_mV


def test_missing_results_become_a_not_determinable_panel():
    fig, (ax,) = fg.new_figure(6, 4)
    fg.recruitment_curve(ax, None, np.zeros(0), np.zeros(0), np.zeros(0),
                         reason="channel is flat (all samples equal)")
    assert not ax.axison
    text = ax.texts[0].get_text()
    assert "not determinable" in text and "channel is flat" in text
