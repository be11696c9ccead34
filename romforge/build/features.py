"""The feature interface: what a build step that customizes the ROM must offer.

Feature overlays, locale packs and boot-screen credits are features. Each has a plan step
that only reads and checks its inputs (no tool runs, nothing written) and returns a
FeaturePlan, or None when the device does not use it. The build then loops over the
context's features in order: `apply` changes the staged tree and reports what it did,
`check` looks at the finished tree with that report. Adding a feature means writing one
object with these methods and putting it in the context's list; build.py does not change.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping, Protocol

if TYPE_CHECKING:
    from romforge.errors import Finding
    from romforge.profile import DeviceProfile
    from romforge.run.context import BuildContext
    from romforge.tree import RomTree


@dataclass(frozen=True)
class BuildTarget:
    """What a feature plans against: the device, the base ROM, the identity stamps every build
    writes itself (no feature may set those), and the plans of the features before it."""

    profile: "DeviceProfile"
    base: "RomTree"
    stamps: Mapping[str, Mapping[str, str]]
    earlier: Mapping[str, "FeaturePlan"] = field(default_factory=dict)


@dataclass
class Report:
    """What one feature's apply did: log lines, and facts its check (and later checks) read."""

    notes: list[str] = field(default_factory=list)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)  # (partition, path) → who wrote it
    removed: dict[tuple[str, str], str] = field(default_factory=dict)  # (partition, path) → who removed it
    facts: dict[str, Any] = field(default_factory=dict)


class FeaturePlan(Protocol):
    """One feature's part of one build, planned."""

    name: str

    def inputs(self) -> Any:
        """What build-info.json records of this feature's inputs (hashes of the bytes it read)."""

    def apply(self, ctx: "BuildContext", tree: "RomTree") -> Report:
        """Change the staged tree; raises RomforgeError (every problem at once) when it cannot."""

    def check(self, ctx: "BuildContext", tree: "RomTree", report: Report) -> list["Finding"]:
        """Findings about the finished tree, from what `apply` reported; errors stop the build."""

    def summary(self) -> Any:
        """What build-info.json records of what it did; None records nothing."""


class Feature(Protocol):
    """A kind of customization; `plan` returns None when the device does not use it."""

    name: str

    def plan(self, ctx: "BuildContext", target: BuildTarget) -> FeaturePlan | None:
        """Read and check the inputs; no tool runs, nothing written."""


def default_features() -> tuple[Feature, ...]:
    """The registry: what every build runs, in order (overlays first: later ones may read what
    the overlays add, e.g. the strings locale packs translate)."""
    from romforge.bootscreen.feature import CREDITS
    from romforge.locales.feature import LOCALE_PACKS
    from romforge.overlays.feature import OVERLAYS

    return (OVERLAYS, LOCALE_PACKS, CREDITS)
