"""Boot-screen credits as a build feature: the contributors' names added to the boot animation.

Plan reads the CSV and the base animation and lays the pages out (nothing is drawn yet);
apply renders the pages into the animation the device plays; check reads the written zip
back against the player's rules at the device's resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from romforge.bootscreen.credits import CreditsPlan, apply_credits, check_credits, credits_for_build
from romforge.build.features import BuildTarget, Report
from romforge.errors import Finding
from romforge.run.context import BuildContext
from romforge.tree import RomTree


@dataclass
class CreditsFeaturePlan:
    credits: CreditsPlan
    name: str = "credits"

    def inputs(self) -> dict[str, Any]:
        return self.credits.inputs()

    def apply(self, ctx: BuildContext, tree: RomTree) -> Report:
        apply_credits(self.credits, tree)
        return Report()

    def check(self, ctx: BuildContext, tree: RomTree, report: Report) -> list[Finding]:
        return check_credits(self.credits, tree)

    def summary(self, report: Report) -> dict[str, Any]:
        return self.credits.summary()


@dataclass(frozen=True)
class CreditsFeature:
    name: str = "credits"

    def plan(self, ctx: BuildContext, target: BuildTarget) -> CreditsFeaturePlan | None:
        found = credits_for_build(ctx.workspace.root, target.profile, target.base)
        return CreditsFeaturePlan(found) if found is not None else None


CREDITS = CreditsFeature()
