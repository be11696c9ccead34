"""One device's build: plan → stage → apply → check → package (flow.py), with the features
(features.py) that customize the ROM, the identity stamps (stamps.py) and the record every
release keeps (record.py)."""

from __future__ import annotations

from romforge.build.flow import TARGET_FILES, BuildResult, build, build_release
from romforge.build.plan import BuildPlan, BuildRequest, plan, retarget
from romforge.build.record import BuildInfo, read_build_info

__all__ = ["TARGET_FILES", "BuildInfo", "BuildPlan", "BuildRequest", "BuildResult", "build", "build_release", "plan",
           "read_build_info", "retarget"]
