"""One name per species, whatever a file calls it.

Files name a species in many ways: ``rat``, ``Rat``, ``Rattus norvegicus`` (the Latin
binomial NWB asks for), ``Sprague-Dawley rat``, ``rats (Wistar)``. The window priors, the H
recruitment model and the plausible stimulus intensities are chosen by species, so every
such choice goes through :func:`canonical_species`; the file's own text is left as it is.
``docs/FORMAT.md`` ("Species names") lists the names recognised.
"""

from __future__ import annotations

import re

#: hreflex's name of a species -> (its Latin binomial, the words that name it in a file:
#: common names, the binomial, its genus, laboratory strains)
SPECIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "human": ("Homo sapiens", ("human", "humans", "homo sapiens", "h sapiens")),
    "rat": ("Rattus norvegicus", ("rat", "rats", "rattus", "sprague dawley", "wistar",
                                  "long evans", "lewis", "fischer 344", "f344")),
    "mouse": ("Mus musculus", ("mouse", "mice", "mus musculus", "c57bl", "balb c")),
    "cat": ("Felis catus", ("cat", "cats", "felis catus", "feline")),
    "monkey": ("Macaca mulatta", ("monkey", "monkeys", "macaca", "macaque", "rhesus")),
}


def _words(text: str) -> str:
    """Lower case, every run of other characters than letters and digits one space."""
    return " ".join(re.split(r"[^0-9a-z]+", text.lower())).strip()


def canonical_species(text: str | None) -> str:
    """hreflex's name (a key of :data:`SPECIES`) of the species ``text`` names, as a whole
    word or words anywhere in it (``"Rattus norvegicus"``, ``"Sprague-Dawley rat"`` ->
    ``"rat"``); a text that names none, or more than one, comes back trimmed and in lower
    case (``"zebrafish"``; None -> ``""``)."""
    words = f" {_words(text or '')} "
    found = [name for name, (_, aliases) in SPECIES.items()
             if any(f" {alias} " in words for alias in aliases)]
    return found[0] if len(found) == 1 else (text or "").strip().lower()


def latin_name(text: str | None) -> str:
    """The Latin binomial of the species ``text`` names (:func:`canonical_species`); the
    trimmed text itself for a species hreflex does not know."""
    name = canonical_species(text)
    return SPECIES[name][0] if name in SPECIES else (text or "").strip()
