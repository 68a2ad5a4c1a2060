"""One module per ``hreflex`` sub-command; each exposes a click command named ``command``."""
