"""Command line: parse, call one library function, print. No logic lives here.

One module per command group; this one holds the root group and registers them.
"""

from __future__ import annotations

import signal
import sys

import click

from romforge import __version__
from romforge.cli.common import RomforgeGroup
from romforge.run.process import interrupt_all


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


def _stop(signum: int, frame: object) -> None:
    """SIGTERM (CI cancelling a job) unwinds like Ctrl-C, so temporary release dirs are removed;
    the programs worker threads are running are stopped first, so the unwinding need not wait
    for them to finish their work."""
    interrupt_all()
    if signum == signal.SIGINT:
        raise KeyboardInterrupt
    sys.exit(128 + signum)


def main() -> None:
    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    cli(prog_name="romforge")


if __name__ == "__main__":
    main()
