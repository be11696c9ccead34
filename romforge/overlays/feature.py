"""Feature overlays as a build feature: planned by reading and resolving, applied with tools.

Plan resolves the profile's overlays (order, requires, conflicts, the properties every build
stamps itself) and reads every overlay folder once; it runs no tool and writes nothing.
Apply builds the RROs and changes the tree, reporting every problem of every overlay at once.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from romforge.build.features import BuildTarget, Report
from romforge.errors import Finding, InputProblems, RomforgeError
from romforge.overlays.apply import apply_overlays
from romforge.overlays.resolve import Resolved, resolve_all
from romforge.run.context import BuildContext
from romforge.tree import RomTree

NO_RROS = "none (no RROs)"


@dataclass
class OverlayPlan:
    """The overlays of one build, resolved and read, with the problems reading found: apply reports
    them together with what only applying finds, so one report names every problem."""

    resolved: Resolved
    signing: str  # which key signs the RROs (no host paths)
    problems: list[RomforgeError] = field(default_factory=list)
    name: str = "overlays"

    def inputs(self) -> dict[str, Any]:
        return {"overlays": self.resolved.summary(), "rro_signing": self.signing}

    def apply(self, ctx: BuildContext, tree: RomTree) -> Report:
        run = apply_overlays(self.resolved, ctx, tree, self.problems)
        report = Report(origins=dict(run.origins), removed=dict(run.removed), facts={"actions": run.actions})
        if run.apks:
            report.notes.append(f"RROs signed with the {self.signing}")
        for item in self.summary(report):
            report.notes.append(f"overlay {item['name']} {item['version']}")
            report.notes += [f"  {action}" for action in item["actions"]]
        report.notes += [f"overlay {name} skipped: {why}" for name, why in self.resolved.skipped]
        return report

    def check(self, ctx: BuildContext, tree: RomTree, report: Report) -> list[Finding]:
        return []  # what overlays break shows in the build's own checks (ELF, labels), which name them

    def summary(self, report: Report) -> list[dict]:
        actions = report.facts.get("actions", {})
        return [{"name": o.name, "version": o.version, "actions": actions.get(o.name, [])}
                for o in self.resolved.order]


@dataclass(frozen=True)
class OverlaysFeature:
    name: str = "overlays"

    def plan(self, ctx: BuildContext, target: BuildTarget) -> OverlayPlan:
        """Resolve and read; raises InputProblems only when no order exists (a cycle). Other problems
        wait for apply, which works in a private directory, so nothing is written either way."""
        profile = target.profile
        reserved = {p: dict(v) for p, v in target.stamps.items()}
        resolved, problems = resolve_all(ctx.workspace.root / "overlays", profile, reserved_props=reserved)
        if resolved is None:
            raise InputProblems(f"{len(problems)} problem(s) with the overlays of {profile.profile}; "
                                "nothing was built", problems)
        signing = ctx.keys.overlay_label if any(spec.resources for spec in resolved.order) else NO_RROS
        return OverlayPlan(resolved, signing, problems)


OVERLAYS = OverlaysFeature()
