"""Exporters: a session file as NWB (``nwb.py``, optional pynwb extra) or as generic sweep CSV
(``csv.py``, the layout ``hreflex import`` reads back). See ``docs/IMPORT_EXPORT.md``."""
