"""Which overlays go into a device's build, in which order — decided before anything is written.

The profile enables overlays by name; each overlay's `devices` may leave a device out.
Order follows `after` and `requires` (a topological sort with ties broken by name, so
the same inputs always give the same order). Every problem — a missing or broken
overlay, a conflict, a missing requirement, a cycle, two overlays touching the same path
or property with no order between them — is collected and reported at once.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from pathlib import Path

from romforge.errors import ConfigError, InputProblems, RomforgeError, shown_path
from romforge.overlays.spec import OVERLAY_TOML, OverlaySpec, overlay_names, read_overlay
from romforge.profile import DeviceProfile
from romforge.tomlfile import load_toml


@dataclass(frozen=True)
class Resolved:
    """The overlays of one device's build, in the order they are applied."""

    device: str
    order: tuple[OverlaySpec, ...]
    skipped: tuple[tuple[str, str], ...] = ()  # (name, why it is not applied)
    ancestors: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)

    def summary(self) -> list[dict]:
        """What build-info.json records: name, version and a digest of each overlay's folder."""
        return [{"name": o.name, "version": o.version, "sha256": o.sha256} for o in self.order]


def _profile_location(profile: DeviceProfile) -> tuple[str | None, int | None]:
    """file:line of the `overlays` list that is in force for this profile."""
    origin = profile.origin.get("overlays")
    for path in profile.files:
        if shown_path(path) == origin:
            try:
                return origin, load_toml(path, display=origin).line_of("overlays")
            except ConfigError:
                return origin, None
    return origin, None


def _topological(specs: dict[str, OverlaySpec]) -> tuple[list[str], dict[str, set[str]]]:
    """Kahn's algorithm, smallest name first among the ready ones; returns (order, predecessors)."""
    before: dict[str, set[str]] = {n: {d for d in (*s.after, *s.requires) if d in specs} for n, s in specs.items()}
    waiting = {n: len(deps) for n, deps in before.items()}
    users: dict[str, list[str]] = {n: [] for n in specs}
    for n, deps in before.items():
        for d in deps:
            users[d].append(n)
    ready = [n for n, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        n = heapq.heappop(ready)
        order.append(n)
        for u in users[n]:
            waiting[u] -= 1
            if waiting[u] == 0:
                heapq.heappush(ready, u)
    return order, before


def _cycle(before: dict[str, set[str]], stuck: set[str]) -> list[str]:
    """One cycle among the overlays the sort could not place, as a → … → a."""
    start = min(stuck)
    path = [start]
    seen = {start: 0}
    current = start
    while True:
        current = min(d for d in before[current] if d in stuck)
        if current in seen:
            return path[seen[current]:] + [current]
        seen[current] = len(path)
        path.append(current)


def _ancestors(order: list[str], before: dict[str, set[str]]) -> dict[str, frozenset[str]]:
    result: dict[str, frozenset[str]] = {}
    for n in order:
        acc: set[str] = set()
        for d in before[n]:
            acc |= {d} | result[d]
        result[n] = frozenset(acc)
    return result


def _overlaps(a: tuple[str, str, str], b: tuple[str, str, str]) -> bool:
    if a[0] != b[0] or a[1] != b[1]:
        return False
    if a[0] == "prop":
        return a[2] == b[2]
    return a[2] == b[2] or b[2].startswith(a[2] + "/") or a[2].startswith(b[2] + "/")


def _unordered_overlaps(specs: list[OverlaySpec], ancestors: dict[str, frozenset[str]]) -> list[RomforgeError]:
    problems = []
    touches = {s.name: s.touches() for s in specs}
    by_name = {s.name: s for s in specs}
    names = sorted(touches)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            if a in ancestors.get(b, ()) or b in ancestors.get(a, ()):
                continue
            for ka, line in sorted(touches[a].items()):
                hit = next((kb for kb in sorted(touches[b]) if _overlaps(ka, kb)), None)
                if hit is None:
                    continue
                what = f"property {ka[2]} in {ka[1]}" if ka[0] == "prop" else f"/{ka[1]}/{ka[2]}"
                other = by_name[b]
                problems.append(ConfigError(
                    f"overlays '{a}' and '{b}' both change {what} but neither says which goes first "
                    f"(see {other.file}:{touches[b][hit]})", file=by_name[a].file, line=line,
                    hint=f"add after = [\"{a}\"] to {b}'s overlay.toml, or the other way round"))
    return problems


def resolve(overlays_dir: Path, profile: DeviceProfile, *,
            reserved_props: dict[str, dict[str, str]] | None = None) -> Resolved:
    """The profile's overlays for this device, ordered; raises InputProblems with every problem found."""
    resolved, problems = resolve_all(overlays_dir, profile, reserved_props=reserved_props)
    if problems or resolved is None:
        raise InputProblems(f"{len(problems)} problem(s) with the overlays of {profile.profile}; nothing was built",
                            problems)
    return resolved


def resolve_all(overlays_dir: Path, profile: DeviceProfile, *,
                reserved_props: dict[str, dict[str, str]] | None = None) -> tuple[Resolved | None, list[RomforgeError]]:
    """The ordered overlays (the valid parts of broken ones included) and every problem found;
    no order (None) when after/requires form a cycle."""
    problems: list[RomforgeError] = []
    profile_file, profile_line = _profile_location(profile)
    enabled: dict[str, OverlaySpec] = {}
    for name in profile.overlays:
        if not (overlays_dir / name / OVERLAY_TOML).is_file():
            problems.append(ConfigError(
                f"profile {profile.profile} enables overlay '{name}', but {shown_path(overlays_dir / name / OVERLAY_TOML)} "
                "does not exist", file=profile_file, line=profile_line,
                hint=f"overlays available: {', '.join(overlay_names(overlays_dir)) or '(none)'}"))
            continue
        spec, found = read_overlay(overlays_dir / name)
        problems += found
        if spec is not None:
            enabled[name] = spec
    applied = {n: s for n, s in enabled.items() if s.applies_to(profile)}
    skipped = tuple((n, f"devices = {list(s.devices)} leaves out {profile.profile}")
                    for n, s in sorted(enabled.items()) if n not in applied)
    for name, spec in sorted(applied.items()):
        for needed in spec.requires:
            if needed in applied:
                continue
            if needed in enabled:
                why = f"which does not apply to {profile.profile} (its devices = {list(enabled[needed].devices)})"
            elif (overlays_dir / needed / OVERLAY_TOML).is_file():
                why = f"which profile {profile.profile} does not enable"
            else:
                why = "which does not exist"
            problems.append(spec.error(f"requires overlay '{needed}', {why}", spec.line("requires"),
                                       hint=f"enable '{needed}' in the profile's overlays list, or drop the requirement"))
        for other in spec.conflicts:
            if other in applied:
                problems.append(spec.error(f"conflicts with overlay '{other}', which is also enabled for "
                                           f"{profile.profile}", spec.line("conflicts"),
                                           hint="enable only one of them for this device"))
        for key, line in sorted(spec.touches().items()):
            if key[0] == "prop" and reserved_props and key[2] in reserved_props.get(key[1], {}):
                problems.append(spec.error(f"sets {key[2]}, which every build stamps itself", line,
                                           hint="romforge sets the build identity; pick another property"))
    order, before = _topological(applied)
    stuck = set(applied) - set(order)
    ancestors: dict[str, frozenset[str]] = {}
    if stuck:
        cycle = _cycle(before, stuck)
        steps = []
        for a, b in zip(cycle, cycle[1:]):
            key = "requires" if b in applied[a].requires else "after"
            steps.append(f"{a} ({applied[a].file}:{applied[a].line(key)} {key} {b})")
        first = applied[cycle[0]]
        problems.append(first.error("overlay order forms a cycle: " + " → ".join(steps) + f" → {cycle[-1]}",
                                    first.line("requires" if cycle[1] in first.requires else "after"),
                                    hint="drop one of the after/requires entries in the cycle"))
    else:
        ancestors = _ancestors(order, before)
        problems += _unordered_overlaps([applied[n] for n in order], ancestors)
    if stuck:
        return None, problems
    return Resolved(profile.profile, tuple(applied[n] for n in order), skipped, ancestors), problems
