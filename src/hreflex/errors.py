"""Errors a user can act on.

Every error meant for a person derives from :class:`HreflexError`; the CLI prints it as one
line (``Error: <message>``) and exits non-zero. The message names the file, field or key and
what is wrong with it. Anything else that escapes is a bug and is reported as such.
"""

from __future__ import annotations


class HreflexError(Exception):
    """A problem the user can fix (bad file, bad config, missing device...)."""


class FileFormatError(HreflexError):
    """A session file (or an import source) is unreadable, foreign, truncated or invalid."""


class ConfigError(HreflexError):
    """A session or analysis configuration is invalid."""


class DeviceError(HreflexError):
    """A device is missing, misbehaves, or refused a command."""


class SafetyError(HreflexError):
    """A stimulus parameter would exceed a configured or device limit. Nothing was sent."""
