"""What `romforge overlay list` and `overlay check` show: overlays described and validated
without building a release."""

from __future__ import annotations

from romforge.errors import CheckFailed, Finding, InputProblems, RomforgeError
from romforge.overlays.apply import dry_run
from romforge.overlays.resolve import Resolved, resolve
from romforge.overlays.spec import OverlaySpec, load_overlay, overlay_names, read_overlay
from romforge.profile import load_profile
from romforge.run.context import BuildContext
from romforge.tree import RomTree
from romforge.workspace import Workspace


def describe(spec: OverlaySpec) -> dict:
    """Plain data about one overlay: identity, relations and every path/prop it touches."""
    touches = []
    for kind, partition, what in sorted(spec.touches()):
        touches.append(f"prop {partition}: {what}" if kind == "prop" else f"/{partition}/{what}")
    return {
        "name": spec.name, "version": spec.version, "description": spec.description, "file": spec.file,
        "requires": list(spec.requires), "conflicts": list(spec.conflicts), "after": list(spec.after),
        "devices": list(spec.devices), "touches": touches,
        "rros": [{"target": r.target, "package": r.package, "partition": r.partition, "priority": r.priority}
                 for r in spec.resources],
    }


def list_overlays(ws: Workspace, device: str | None = None) -> dict:
    """Every overlay of the workspace, or — for a device — the resolved order and what is skipped."""
    overlays_dir = ws.root / "overlays"
    if device is None:
        specs, problems = [], []
        for name in overlay_names(overlays_dir):
            try:
                specs.append(load_overlay(overlays_dir / name))
            except InputProblems as exc:
                problems += exc.problems
            except RomforgeError as exc:
                problems.append(exc)
        if problems:
            raise InputProblems(f"{len(problems)} problem(s) in {overlays_dir.name}/", problems)
        return {"device": None, "overlays": [describe(s) for s in specs], "skipped": []}
    profile = load_profile(device, ws.profile_dirs)
    resolved = resolve(overlays_dir, profile)
    return {"device": profile.profile, "overlays": [describe(s) for s in resolved.order],
            "skipped": [{"name": n, "why": why} for n, why in resolved.skipped]}


def _with_requirements(name: str, specs: dict[str, OverlaySpec]) -> list[OverlaySpec]:
    """`name` and what it requires, transitively, in an order that respects after/requires."""
    wanted, stack = set(), [name]
    while stack:
        current = stack.pop()
        if current in wanted or current not in specs:
            continue
        wanted.add(current)
        stack += list(specs[current].requires)
    placed: list[OverlaySpec] = []
    while len(placed) < len(wanted):
        ready = sorted(n for n in wanted - {s.name for s in placed}
                       if all(d in {s.name for s in placed} or d not in wanted
                              for d in (*specs[n].requires, *specs[n].after)))
        if not ready:
            break  # a cycle: resolve() reports it when a device enables these overlays
        placed.append(specs[ready[0]])
    return placed


def _findings(problems: list[RomforgeError]) -> list[Finding]:
    return [Finding(p.file or "", p.line, "overlay", "error", p.message + (f" (hint: {p.hint})" if p.hint else ""))
            for p in problems]


def check_overlays(ws: Workspace, names: list[str] | None = None) -> list[str]:
    """Validate overlays without building: the spec, then — when the workspace has a base ROM —
    applying each (with what it requires) to a throw-away stage, RROs included.
    Returns what was checked; raises CheckFailed listing every problem."""
    overlays_dir = ws.root / "overlays"
    available = overlay_names(overlays_dir)
    wanted = names if names else available
    problems: list[RomforgeError] = []
    specs: dict[str, OverlaySpec] = {}
    for name in wanted:
        if name not in available:
            problems.append(RomforgeError(f"no overlay '{name}' (no {overlays_dir.name}/{name}/overlay.toml)",
                                          file=str(overlays_dir.name)))
            continue
    for name in available:
        spec, found = read_overlay(overlays_dir / name)
        if spec is not None:
            specs[name] = spec
        if name in wanted:
            problems += found
    for name in wanted:
        spec = specs.get(name)
        if spec is None:
            continue
        for needed in spec.requires:
            if needed not in available:
                problems.append(spec.error(f"requires overlay '{needed}', which does not exist", spec.line("requires")))
        for other in spec.conflicts:
            if other not in available:
                problems.append(spec.error(f"conflicts names '{other}', which does not exist", spec.line("conflicts")))
    base_path = ws.base_rom
    if base_path is not None and base_path.exists():
        base = RomTree.open(base_path)
        ctx = BuildContext.create(ws)
        for name in wanted:
            chain = _with_requirements(name, specs)
            try:
                dry_run(Resolved(name, tuple(chain)), base, ctx)
            except InputProblems as exc:
                seen = {p.format() for p in problems}
                problems += [p for p in exc.problems if p.format() not in seen]
    if problems:
        raise CheckFailed(f"{len(problems)} problem(s) in {len(wanted)} overlay(s)", _findings(problems))
    return list(wanted)
