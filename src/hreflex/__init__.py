"""hreflex: run H-reflex experiments on lab hardware and analyse them."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("hreflex")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"
