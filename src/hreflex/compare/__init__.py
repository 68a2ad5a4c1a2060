"""Condition comparison across sessions (``hreflex compare``, ``docs/COMPARE.md``): the
manifest (``manifest``), design recognition (``design``), per-session measures
(``measures``), statistics (``stats``, ``mixed``), the comparison rows (``table``), the
whole job (``run``) and its JSON/CSV output (``output``)."""

from hreflex.compare.run import run_compare

__all__ = ["run_compare"]
