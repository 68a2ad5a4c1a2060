"""Design recognition (``docs/COMPARE.md``, "Design"): from the entries of a study, which
level is the reference, which comparisons are made and whether each is paired or between
independent groups, and whether a mixed model is fitted.

- Every level of the ``--by`` column is compared with the reference, within each timepoint
  when the manifest has a ``timepoint`` column (else once).
- A comparison is **paired** when at least one subject has a session in both levels (the
  subjects with both are paired; the others are listed as left out), else **independent**.
- A **mixed** model (random intercept per subject) is added when there are more than two
  cells (level × timepoint) and at least one subject has more than one session.
"""

from __future__ import annotations

from dataclasses import dataclass

from hreflex.compare.manifest import Entry
from hreflex.errors import HreflexError


@dataclass(frozen=True)
class Pair:
    """One comparison: ``condition`` vs the reference at ``timepoint`` (None: no
    timepoints), ``kind`` ``paired`` or ``independent``."""

    condition: str
    timepoint: str | None
    kind: str


@dataclass
class Plan:
    """What is compared. ``levels``: reference first, then in order of appearance;
    ``timepoints``: in order of appearance, ``[None]`` without a timepoint column;
    ``design``: ``paired``, ``independent`` or ``mixed`` (see the module doc)."""

    by: str
    reference: str
    levels: list[str]
    timepoints: list[str | None]
    pairs: list[Pair]
    mixed: bool
    design: str
    reference_note: str


def _ordered(values) -> list:
    return list(dict.fromkeys(values))


def pick_reference(levels: list[str], reference: str | None, by: str, source: str
                   ) -> tuple[str, str]:
    """The reference level (exact match, else a unique case-insensitive one; default: the
    first level) and a note saying how it was chosen."""
    if reference is None:
        return levels[0], f"reference {levels[0]!r}: the first {by} in {source}"
    if reference in levels:
        return reference, f"reference {reference!r}"
    folded = [v for v in levels if v.casefold() == reference.strip().casefold()]
    if len(folded) == 1:
        return folded[0], f"reference {folded[0]!r}"
    raise HreflexError(f"{source}: --reference {reference!r} is not a level of {by!r} "
                       f"(levels: {', '.join(levels)})")


def recognise(entries: list[Entry], by: str, reference: str | None, source: str) -> Plan:
    """The plan of a study (raises :class:`HreflexError` when there is nothing to compare
    or the reference is not present)."""
    levels = _ordered(e.level for e in entries)
    if len(levels) < 2:
        found = f"only {by} {levels[0]!r}" if levels else "no usable session"
        raise HreflexError(f"{source}: {found}: nothing to compare (need two levels of {by!r})")
    ref, note = pick_reference(levels, reference, by, source)
    levels = [ref, *(v for v in levels if v != ref)]
    timepoints = _ordered(e.timepoint for e in entries)
    subjects = {}
    for e in entries:
        subjects.setdefault((e.level, e.timepoint), set()).add(e.subject)
    pairs = []
    for tp in timepoints:
        base = subjects.get((ref, tp), set())
        for level in levels[1:]:
            here = subjects.get((level, tp))
            if here is not None:
                pairs.append(Pair(level, tp, "paired" if here & base else "independent"))
    if not pairs:
        raise HreflexError(f"{source}: no timepoint has both the reference {ref!r} and another "
                           f"level of {by!r}: nothing to compare")
    per_subject: dict[str, int] = {}
    for e in entries:
        per_subject[e.subject] = per_subject.get(e.subject, 0) + 1
    mixed = len(subjects) > 2 and max(per_subject.values()) > 1
    kinds = {p.kind for p in pairs}
    design = "mixed" if mixed or len(kinds) != 1 else kinds.pop()
    return Plan(by, ref, levels, timepoints, pairs, mixed, design, note)
