"""``hreflex ports``: the serial ports present, with the USB ids a config can match on."""

from __future__ import annotations

import click


@click.command("ports")
def command() -> None:
    """List serial ports with USB VID:PID and serial number."""
    from hreflex.acquisition.ports import format_ports, list_ports

    ports = list_ports()
    if not ports:
        click.echo("No serial ports found (is the device plugged in and powered?).")
        return
    click.echo(format_ports(ports))
    click.echo("\nMatch a device in the config with e.g. vid = 0x16C0, pid = 0x0483, "
               'serial_number = "..." under [devices.amplifier].')
