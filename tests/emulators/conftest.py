"""Fixtures: ``rig`` opens emulated benches, clients and raw ports and closes them at the end."""

from tests.devices.helpers import rig  # noqa: F401
