"""Boot-screen credits for one device: credits/contributors.csv → pages of names → extra parts.

The build's three steps live here (`credits_for_build` plans, `apply_credits` writes,
`check_credits` checks what was written), with `bootanim render`. Reading the CSV is in
`contributors`, the page layout in `credits_layout`, drawing in `credits_pages`.
"""

from __future__ import annotations

import hashlib
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import PIL

from romforge.bootscreen.archive import read_bootanimation
from romforge.bootscreen.bootanim import BootAnimation, Inspection, write_bootanimation
from romforge.bootscreen.contributors import Credits, describe_char, read_credits
from romforge.bootscreen.credits_layout import CreditsLayout, CreditsOptions, lay_out
from romforge.bootscreen.credits_pages import credit_parts
from romforge.bootscreen.fitting import fit_to_screen, with_parts
from romforge.bootscreen.source import read_from_tree
from romforge.bootscreen.textrender import Typesetter
from romforge.errors import CheckFailed, ConfigError, Finding, InputError
from romforge.profile import DeviceProfile
from romforge.tree import FILE, RomTree
from romforge.workspace import Workspace

CREDITS_CSV = "credits/contributors.csv"
DEFAULT_FPS = 30


# ---- one device's credited animation --------------------------------------------------


@dataclass
class CreditsPlan:
    """Everything needed to write the credited bootanimation.zip, checked before any write."""

    options: CreditsOptions
    credits: Credits
    layout: CreditsLayout
    typesetter: Typesetter
    location: tuple[str, str]  # (partition, path) the device plays
    base: Inspection | None
    base_sha256: str | None
    base_fit: str | None
    notes: list[Finding] = field(default_factory=list)

    def animation(self) -> BootAnimation:
        """The base animation (fitted to the screen) with the credits placed as the profile says."""
        base = None
        if self.base is not None:
            base, _ = fit_to_screen(self.base.anim, self.layout.width, self.layout.height)
        parts = credit_parts(self.layout, self.typesetter, base)
        if base is None:
            return BootAnimation(self.layout.width, self.layout.height, self.layout.fps, parts)
        return with_parts(base, parts, self.options.placement)

    def render(self) -> bytes:
        return write_bootanimation(self.animation())

    def inputs(self) -> dict[str, Any]:
        """What the output bytes depend on beyond the profile and base ROM."""
        return {"contributors_sha256": self.credits.sha256, "shaping": self.typesetter.shaping,
                "fonts": {f["family"]: f["sha256"] for f in self.typesetter.describe()},
                "pillow": PIL.__version__}

    def summary(self) -> dict[str, Any]:
        """For build-info.json: how many and which names appear, and how they were drawn."""
        layout = self.layout
        shown = layout.shown
        return {
            "bootanimation": f"/{self.location[0]}/{self.location[1]}",
            "source": self.credits.source,
            "contributors": len(self.credits.contributors),
            "shown": len(shown),
            "left_out": len(self.credits.contributors) - len(shown),
            "limited_by": layout.limited_by,
            "limits": {"max_names": self.options.max_names, "max_frames": self.options.max_frames},
            "names": [c.to_dict() for c in shown],
            "placement": self.options.placement if self.base is not None else "only",
            "size": f"{layout.width}x{layout.height}",
            "fps": layout.fps,
            "pages": len(layout.pages),
            "columns": layout.columns,
            "frames": layout.frame_count,
            "seconds": round(len(layout.pages) * layout.hold_frames / layout.fps, 2),
            "base": self.base_fit,
            "shaping": self.typesetter.shaping,
            "fonts": [f"{f['family']} ({f['package']})" for f in self.typesetter.describe()],
            "notes_total": self.credits.notes_total,
        }


def plan_credits(profile: DeviceProfile, options: CreditsOptions, csv_path: Path, *, csv_shown: str | None = None,
                 base: tuple[bytes, str] | None, location: tuple[str, str],
                 typesetter: Typesetter | None = None) -> CreditsPlan:
    """Read the credits and the base animation, lay the pages out; raises before anything is written."""
    credits = read_credits(csv_path, shown=csv_shown)
    inspection = None
    base_sha = None
    fit = None
    fps = DEFAULT_FPS
    if base is not None:
        data, source = base
        inspection = _inspect_base(data, source)
        base_sha = hashlib.sha256(data).hexdigest()
        fps = inspection.anim.fps
        _, fit = fit_to_screen(inspection.anim, profile.screen.width, profile.screen.height)
    typesetter = typesetter or Typesetter.load()
    layout = lay_out(credits.contributors, typesetter, profile.screen, options, fps)
    notes = list(credits.notes)
    if base is None:
        notes.append(Finding(f"/{location[0]}/{location[1]}", None, "credits-no-base", "warning",
                             "the base ROM has no boot animation; the credits become the whole animation"))
    if inspection is not None:
        notes += [f for f in inspection.warnings if f.rule == "entry-junk"]
    if typesetter.shaping != "raqm" and any(_needs_shaping(c.name) for c in layout.shown):
        notes.append(Finding(credits.source, None, "credits-shaping", "warning",
                             "Pillow has no raqm here: right-to-left and joined scripts are drawn unshaped "
                             "(install libraqm0 and reinstall Pillow)"))
    missing = sorted({ch for e in (x for page in layout.pages for x in page) for ch in e.name.missing})
    if missing:
        notes.append(Finding(credits.source, None, "credits-glyphs", "warning",
                             f"no installed font draws {', '.join(describe_char(m[0]) for m in missing[:5])}; "
                             "left out of the names (a name with nothing left shows its handle)"))
    return CreditsPlan(options, credits, layout, typesetter, location, inspection, base_sha, fit, notes)


def _needs_shaping(text: str) -> bool:
    return any(unicodedata.bidirectional(ch) in ("R", "AL") or unicodedata.category(ch) == "Mc" for ch in text)


def _inspect_base(data: bytes, source: str) -> Inspection:
    inspection = read_bootanimation(data, source=source)
    if inspection.errors:
        raise CheckFailed(f"the base boot animation breaks {len(inspection.errors)} rule(s); credits are added to "
                          "a working animation only (fix it, or set credits = false under [bootanimation])",
                          inspection.findings)
    return inspection


# ---- the build's steps ---------------------------------------------------------------


def credits_for_build(workspace_root: Path, profile: DeviceProfile, base_tree: RomTree) -> CreditsPlan | None:
    """plan: the credits this build will draw, or None when the profile or workspace has none."""
    options = CreditsOptions.from_profile(profile)
    csv_path = workspace_root / CREDITS_CSV
    if options.enabled is False:
        return None
    if not os.path.lexists(csv_path):  # present but not a regular file: read_credits says what it is
        if options.enabled:
            raise ConfigError(f"[bootanimation] credits = true, but the workspace has no {CREDITS_CSV}",
                              file=profile.origin.get("bootanimation.credits"),
                              hint=f"add {CREDITS_CSV} (columns name,handle,joined) or drop `credits = true`")
        return None
    found = read_from_tree(base_tree, base_tree.name)
    base = None
    if found is not None:
        base, location = (found[0], found[1]), found[2]
    else:
        partition = "product" if "product" in base_tree.partitions() and "product" in profile.partitions else "system"
        location = (partition, "media/bootanimation.zip")
    return plan_credits(profile, CreditsOptions.from_profile(profile), csv_path,
                        csv_shown=CREDITS_CSV, base=base, location=location)


def apply_credits(plan: CreditsPlan, tree: RomTree) -> None:
    """apply: write the credited animation where the device looks for it."""
    partition, path = plan.location
    entry = tree.get(partition, path)
    if entry is not None and entry.kind == FILE and plan.base is not None:
        current = tree.read(partition, path)
        if hashlib.sha256(current).hexdigest() != plan.base_sha256:  # an earlier step replaced it
            plan.base = _inspect_base(current, f"/{partition}/{path}")
    tree.write_file(partition, path, plan.render())


def check_credits(plan: CreditsPlan, tree: RomTree) -> list[Finding]:
    """check: the written animation passes every bootanimation rule at the device's resolution."""
    partition, path = plan.location
    written = read_bootanimation(tree.read(partition, path), source=f"/{partition}/{path}",
                                 screen=(plan.layout.width, plan.layout.height))
    findings = list(plan.notes) + written.findings
    anim = written.anim
    if (anim.width, anim.height) != (plan.layout.width, plan.layout.height):
        findings.append(Finding(f"/{partition}/{path}", None, "credits-size", "error",
                                f"the animation is {anim.width}x{anim.height}, not the screen's "
                                f"{plan.layout.width}x{plan.layout.height}"))
    return findings


def render_for_device(profile: DeviceProfile, out: Path, *, credits_csv: Path,
                      base: tuple[bytes, str] | None) -> CreditsPlan:
    """`romforge bootanim render`: the credited animation for one device, written atomically to `out`."""
    if out.is_dir():
        raise InputError("is a directory; give the file to write, e.g. bootanimation.zip", file=out)
    if not out.parent.is_dir():
        raise InputError("the folder to write into does not exist", file=out.parent)
    options = CreditsOptions.from_profile(profile)
    plan = plan_credits(profile, options, credits_csv, base=base, location=("product", "media/bootanimation.zip"))
    data = plan.render()
    tmp = out.with_name(f".{out.name}.romforge-tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return plan


def render_command(ws: Workspace, device: str, out: Path, *, credits_csv: Path | None = None, base: Path | None = None,
                   no_base: bool = False) -> CreditsPlan:
    """`romforge bootanim render`: resolve the device, credits and base animation, then render."""
    from romforge.bootscreen.source import load_bootanimation_bytes
    from romforge.profile import load_profile

    profile = load_profile(device, ws.profile_dirs)
    csv_path = credits_csv or ws.root / CREDITS_CSV
    if credits_csv is None and not os.path.lexists(csv_path):
        raise InputError("no contributors file", file=csv_path,
                         hint=f"add {CREDITS_CSV} to the workspace or pass --credits CSV")
    source = None
    if not no_base:
        base_path = base or ws.base_rom
        if base_path is not None:
            source = load_bootanimation_bytes(Path(base_path))
    return render_for_device(profile, out, credits_csv=csv_path, base=source)
