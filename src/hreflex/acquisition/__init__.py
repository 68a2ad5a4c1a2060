"""Acquisition: session configuration, plan and dry run, stimulus safety, recording with a raw
byte journal, crash recovery, live-view formatting and serial ports (``docs/ACQUISITION.md``).

Modules are imported by name (``hreflex.acquisition.config`` …); nothing is re-exported here
so that ``hreflex --help`` stays fast.
"""
