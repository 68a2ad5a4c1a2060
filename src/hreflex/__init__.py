"""hreflex: run H-reflex experiments on lab hardware and analyse them."""

#: the one place the version is written (``pyproject.toml`` reads it from here); a literal,
#: so that ``hreflex --version`` does not pay for ``importlib.metadata``
__version__ = "0.1.0"
