"""Linear mixed model of ``hreflex compare`` (optional extra ``stats``: statsmodels).

``value ~ cell + (1 | subject)``: one fixed mean per cell (level × timepoint; the same model
as level * timepoint with every interaction) and a random intercept per subject, fitted by
REML (``statsmodels.regression.mixed_linear_model.MixedLM``). A comparison is the contrast
of two cell means, with its Wald standard error from the covariance of the fixed effects,
z = estimate / SE, two-sided p from the normal distribution and the 95 % interval
estimate ± 1.96 SE (large-sample: with few subjects it is narrower than the paired t
interval; see ``docs/COMPARE.md``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

import numpy as np
from scipy import stats as st

EXTRA_HINT = "the mixed model needs the optional 'stats' extra (pip install 'hreflex[stats]')"


def unavailable() -> str | None:
    """Why the mixed model cannot be fitted here (statsmodels missing), or None."""
    try:
        import statsmodels.regression.mixed_linear_model  # noqa: F401
    except ImportError:
        return EXTRA_HINT
    return None


@dataclass
class Contrast:
    """``mean(cell a) − mean(cell b)`` from the model."""

    estimate: float
    se: float
    z: float
    p: float
    ci95: tuple[float, float]


@dataclass
class MixedFit:
    """A fitted model: one :class:`Contrast` per requested pair (None where a cell has no
    data), and what describes the fit."""

    contrasts: list[Contrast | None]
    n_obs: int
    n_subjects: int
    subject_sd: float | None
    residual_sd: float | None
    converged: bool
    warnings: list[str] = field(default_factory=list)

    def info(self) -> dict:
        return {"model": "value ~ cell + (1 | subject), REML", "n_obs": self.n_obs,
                "n_subjects": self.n_subjects, "subject_sd": self.subject_sd,
                "residual_sd": self.residual_sd, "converged": self.converged,
                "warnings": self.warnings}


def fit(values: np.ndarray, subjects: list[str], cells: list[tuple],
        pairs: list[tuple[tuple, tuple]]) -> MixedFit:
    """Fit the model to ``values`` (n,) of ``subjects`` (n,) in ``cells`` (n, hashable) and
    return the contrast ``a − b`` of every ``(a, b)`` in ``pairs``. The values are
    standardised for the fit (mean 0, SD 1) and the results scaled back (REML is
    equivariant). Raises ``ValueError``/``LinAlgError`` when the model cannot be fitted."""
    from statsmodels.regression.mixed_linear_model import MixedLM

    y = np.asarray(values, dtype=float)
    centre, scale = float(np.mean(y)), float(np.std(y))
    scale = scale if scale > 0 else 1.0
    names = list(dict.fromkeys(cells))
    col = {c: i for i, c in enumerate(names)}
    x = np.zeros((y.size, len(names)))
    x[np.arange(y.size), [col[c] for c in cells]] = 1.0
    groups = np.unique(np.asarray(subjects), return_inverse=True)[1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        res = MixedLM((y - centre) / scale, x, groups=groups).fit(reml=True)
    beta = np.asarray(res.fe_params) * scale
    cov = np.asarray(res.cov_params())[: len(names), : len(names)] * scale**2
    z975 = float(st.norm.ppf(0.975))
    out = []
    for a, b in pairs:
        if a not in col or b not in col:
            out.append(None)
            continue
        c = np.zeros(len(names))
        c[col[a]], c[col[b]] = 1.0, -1.0
        est, se = float(c @ beta), math.sqrt(max(float(c @ cov @ c), 0.0))
        z = est / se if se > 0 else math.nan
        out.append(Contrast(est, se, z, float(2 * st.norm.sf(abs(z))),
                            (est - z975 * se, est + z975 * se)) if se > 0 else None)
    cov_re = np.asarray(res.cov_re)
    return MixedFit(out, int(y.size), int(groups.max() + 1),
                    math.sqrt(max(float(cov_re[0, 0]), 0.0)) * scale if cov_re.size else None,
                    math.sqrt(float(res.scale)) * scale, bool(res.converged),
                    sorted({" ".join(str(w.message).split()) for w in caught}))
