"""Command line: parse, call one library function, print. No logic lives here.

One module per command group; this one holds the root group and registers them.
"""

from __future__ import annotations

import signal
import sys

import click

from romforge import __version__
from romforge.cli.common import RomforgeGroup


@click.group(cls=RomforgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show tracebacks for user errors too.")
@click.version_option(__version__, prog_name="romforge")
def cli(debug: bool) -> None:
    """Build customized Android ROMs per device from one base ROM."""


def _register() -> None:
    from romforge.cli import avb, base, bootanim, build, locale, ota, overlay, profile, release, t9, updater, weekly

    for command in (profile.profile, build.sample_rom, build.build, ota.ota, weekly.weekly, weekly.site,
                    bootanim.bootanim, overlay.overlay, locale.locale, t9.t9, avb.avb, updater.updater, base.base,
                    release.release):
        cli.add_command(command)


_register()


def main() -> None:
    # SIGTERM (CI cancelling a job) unwinds like Ctrl-C, so temporary release dirs are removed
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    cli(prog_name="romforge")


if __name__ == "__main__":
    main()
