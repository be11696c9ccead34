"""Helpers for the overlay tests: write overlays and a device that enables them into a workspace."""

from __future__ import annotations

import textwrap
from pathlib import Path

DATE = "2026-11-27"


def write_overlay(ws: Path, name: str, toml: str, files: dict[str, str | bytes] | None = None) -> Path:
    root = ws / "overlays" / name
    root.mkdir(parents=True, exist_ok=True)
    (root / "overlay.toml").write_text(textwrap.dedent(toml).lstrip(), encoding="utf-8")
    for rel, data in (files or {}).items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data.encode() if isinstance(data, str) else data)
    return root


def device(ws: Path, overlays: list[str], *, name: str = "testdev", inherits: str = "common-arm64",
           extra: str = "") -> str:
    """A device profile in the workspace that enables exactly `overlays`."""
    profiles = ws / "device-profiles"
    profiles.mkdir(exist_ok=True)
    listed = ", ".join(f'"{o}"' for o in overlays)
    (profiles / f"{name}.toml").write_text(
        f'inherits = "{inherits}"\ncodename = "{name}"\nmodel = "Test {name}"\n'
        f"overlays = [{listed}]\n{extra}"
        "[screen]\nwidth = 1080\nheight = 2340\ndensity = 440\n")
    return name


def prop_overlay(ws: Path, name: str, relations: str = "") -> Path:
    """The smallest real overlay: one system property, plus requires/after/conflicts lines."""
    key = name.replace("-", "_")
    return write_overlay(ws, name, f'name = "{name}"\nversion = "1"\n{relations}\n'
                                   f'[props.system.set]\n"persist.romforge.{key}" = "1"\n')
