"""BuildContext: what every build step may use, made once per run and passed explicitly.

Keys, tool paths, the core budget, the results the run's builds share, where progress goes
and which features a build runs: nothing of this lives in module state, so two runs in one
process (tests, a dask worker) never see each other's, and a step's signature says what it
depends on.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from romforge.errors import ConfigError
from romforge.rro import SigningKey
from romforge.run.cache import RunCache, RunResults, kept_directory
from romforge.run.cores import Cores, standalone
from romforge.run.progress import NullProgress, Progress
from romforge.run.tools import Tools
from romforge.workspace import Workspace

if TYPE_CHECKING:
    from romforge.build.features import Feature
    from romforge.ota.keys import OtaKey
    from romforge.profile import DeviceProfile

TEST_OVERLAY_KEY = "romforge test key (set [signing] overlay_key in romforge.toml for release builds)"


@dataclass(frozen=True)
class Keys:
    """The keys a run signs with. RROs — feature overlays' and locale packs' alike — are
    signed with `overlay`; `overlay_label` says which key it is without naming host paths."""

    overlay: SigningKey
    overlay_label: str
    ota_key: Path | None = None  # romforge.toml [signing] ota_key; a profile may name its own
    avb_key: Path | None = None  # romforge.toml [signing] avb_key; None: the bundled AVB TEST key

    @classmethod
    def of(cls, ws: Workspace) -> "Keys":
        if ws.overlay_key is None:
            return cls(SigningKey.sample(), TEST_OVERLAY_KEY, ws.ota_key, ws.avb_key)
        prefix = ws.overlay_key
        key = SigningKey(prefix.with_name(prefix.name + ".pk8"), prefix.with_name(prefix.name + ".x509.pem"))
        for part in (key.pk8, key.cert):
            if not part.is_file():
                raise ConfigError(f"overlay signing key part {part.name} not found", file=part,
                                  hint="[signing] overlay_key names KEY for KEY.pk8 and KEY.x509.pem")
        label = "workspace key sha256:" + hashlib.sha256(key.cert.read_bytes()).hexdigest()[:16]
        return cls(key, label, ws.ota_key, ws.avb_key)

    @property
    def overlay_digest(self) -> str:
        """What a cached RRO's key holds, so an APK signed with another key is never reused."""
        return hashlib.sha256(self.overlay.pk8.read_bytes() + self.overlay.cert.read_bytes()).hexdigest()

    def ota_for(self, ws: Workspace, profile: "DeviceProfile") -> "OtaKey | None":
        """The profile's [ota] signing_key, else romforge.toml's; None for non-A/B devices."""
        from romforge.ota.release import resolve_key

        return resolve_key(ws, profile)


@dataclass(frozen=True)
class BuildContext:
    """One run's keys, tools, cores, shared results, progress sink and features."""

    workspace: Workspace
    keys: Keys
    tools: Tools = field(default_factory=Tools)
    cores: Cores = field(default_factory=standalone)
    cache: RunResults = field(default_factory=RunResults)
    progress: Progress = field(default_factory=NullProgress)
    features: tuple["Feature", ...] = ()

    @classmethod
    def create(cls, ws: Workspace, *, cores: Cores | None = None, shared: Path | None = None,
               progress: Progress | None = None, features: tuple["Feature", ...] | None = None,
               tools: Tools | None = None, cache: RunResults | None = None) -> "BuildContext":
        """A context for `ws`: keys read from romforge.toml, the default features unless given."""
        from romforge.build.features import default_features

        shared = shared if shared is not None or cache is not None else kept_directory()

        return cls(workspace=ws, keys=Keys.of(ws), tools=tools or Tools(), cores=cores or standalone(),
                   cache=cache or RunResults(RunCache(shared) if shared is not None else None),
                   progress=progress or NullProgress(),
                   features=default_features() if features is None else features)

    def with_progress(self, progress: Progress) -> "BuildContext":
        return replace(self, progress=progress)

    def describe(self) -> dict[str, Any]:
        """What the build log says about the run (no host paths)."""
        return {"overlay_key": self.keys.overlay_label, "cores": self.cores.limit}
