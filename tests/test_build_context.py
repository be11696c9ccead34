"""The shape of every build step: a context passed explicitly, features from a registry, a plan
that only plans, typed records (issue #17)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from romforge.build import BuildRequest, build_release, plan
from romforge.build.features import BuildTarget, Report, default_features
from romforge.build.record import read_build_info
from romforge.errors import CheckFailed, Finding, ReleaseError, ToolMissingError
from romforge.run.context import BuildContext
from romforge.workspace import load_workspace

DATE = "2026-11-27"
REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def pack_workspace(workspace: Path) -> Path:
    shutil.copytree(REPO / "examples/workspace/locales", workspace / "locales")
    return workspace


@dataclass
class _ToyPlan:
    """A feature nobody wrote into build.py: ships one file, records its inputs and what it did."""

    message: bytes
    name: str = "toy"

    def inputs(self) -> dict:
        return {"message_bytes": len(self.message)}

    def apply(self, ctx: BuildContext, tree) -> Report:
        tree.write_file("system", "etc/toy.txt", self.message)
        return Report(notes=["toy wrote /system/etc/toy.txt"], facts={"written": "etc/toy.txt"})

    def check(self, ctx: BuildContext, tree, report: Report) -> list[Finding]:
        if tree.read("system", report.facts["written"]) != self.message:
            return [Finding("system/etc/toy.txt", None, "toy", "error", "the toy file changed")]
        if b"broken" in self.message:
            return [Finding("system/etc/toy.txt", None, "toy", "error", "the toy says it is broken")]
        return []

    def summary(self, report: Report) -> dict:
        return {"written": report.facts["written"]}


@dataclass(frozen=True)
class _Toy:
    message: bytes
    name: str = "toy"

    def plan(self, ctx: BuildContext, target: BuildTarget) -> _ToyPlan | None:
        assert "overlays" in target.earlier  # a later feature sees the plans before it
        return _ToyPlan(self.message) if target.profile.codename == "cepheus" else None


def _ctx(workspace: Path, *features) -> BuildContext:
    return BuildContext.create(load_workspace(workspace), features=default_features() + tuple(features))


def test_a_toy_feature_joins_through_the_registry_alone(workspace: Path, tmp_path: Path) -> None:
    ctx = _ctx(workspace, _Toy(b"hello from a toy feature\n"))
    result = build_release(ctx, BuildRequest("cepheus", "1.0", DATE, out=tmp_path / "store"))
    with zipfile.ZipFile(result.target_files) as zf:
        assert zf.read("SYSTEM/etc/toy.txt") == b"hello from a toy feature\n"
    info = json.loads((result.release / "build-info.json").read_text())
    assert info["inputs"]["toy"] == {"message_bytes": 25}
    assert info["inputs"]["overlays"]["overlays"]  # the default features ran as well
    # a feature's check stops the build like any other, and nothing is released
    broken = _ctx(workspace, _Toy(b"broken\n"))
    with pytest.raises(CheckFailed) as err:
        build_release(broken, BuildRequest("cepheus", "2.0", DATE, out=tmp_path / "store"))
    assert "the toy says it is broken" in err.value.format()
    assert not (tmp_path / "store/cepheus/2.0").exists()
    # a device the feature does not apply to builds without it
    other = build_release(ctx, BuildRequest("alioth", "1.0", DATE, out=tmp_path / "store"))
    assert "toy" not in json.loads((other.release / "build-info.json").read_text())["inputs"]


def test_plan_runs_no_tool(workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With aapt2, apksigner, mkfs.erofs and every other tool gone from PATH, plan still plans;
    the build itself then says which tool is missing."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    for name in ("git",):  # the changelog is not part of a build
        found = shutil.which(name)
        if found:
            (empty / name).symlink_to(found)
    ctx = BuildContext.create(load_workspace(workspace))
    monkeypatch.setenv("PATH", str(empty))
    monkeypatch.setattr("romforge.run.tools._SBIN", ())
    planned = plan(ctx, BuildRequest("cepheus", "1.0", DATE, out=tmp_path / "store"))
    assert [f.name for f in planned.features] == ["overlays", "locale_packs", "credits"][:len(planned.features)]
    assert planned.inputs["overlays"]["rro_signing"].startswith("romforge test key")
    with pytest.raises(ToolMissingError):
        build_release(ctx, BuildRequest("cepheus", "1.0", DATE, out=tmp_path / "store"), planned=planned)
    assert not (tmp_path / "store/cepheus").exists()


def test_apply_ships_the_bytes_plan_hashed(workspace: Path, tmp_path: Path) -> None:
    """An overlay file changed between plan and apply: the release ships what plan read and
    recorded, not the new bytes."""
    ctx = BuildContext.create(load_workspace(workspace))
    request = BuildRequest("cepheus", "1.0", DATE, out=tmp_path / "store")
    planned = plan(ctx, request)
    spec = next(s for s in planned.feature("overlays").resolved.order if any(op.source for op in s.files))
    op = next(op for op in spec.files if op.source is not None)
    before = op.source.read_bytes()
    op.source.write_bytes(b"changed after plan\n")
    result = build_release(ctx, request, planned=planned)
    with zipfile.ZipFile(result.target_files) as zf:
        from romforge.tree import TF_DIRS

        assert zf.read(f"{TF_DIRS[op.partition]}/{op.path}") == before
    again = plan(ctx, replace(request, version="2.0"))
    assert again.inputs["overlays"] != planned.inputs["overlays"]  # the change is a new input


def test_locale_pack_rros_are_signed_with_the_workspace_key(pack_workspace: Path, tmp_path: Path) -> None:
    keys = pack_workspace / "keys"
    keys.mkdir(exist_ok=True)
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(tmp_path / "k.pem"),
                    "-out", str(keys / "team.x509.pem"), "-days", "3650", "-subj", "/CN=romforge-team-key"],
                   check=True, capture_output=True)
    subprocess.run(["openssl", "pkcs8", "-topk8", "-nocrypt", "-inform", "PEM", "-outform", "DER", "-in",
                    str(tmp_path / "k.pem"), "-out", str(keys / "team.pk8")], check=True)
    config = pack_workspace / "romforge.toml"
    config.write_text(config.read_text() + '\n[signing]\noverlay_key = "keys/team"\n')
    ctx = BuildContext.create(load_workspace(pack_workspace))
    result = build_release(ctx, BuildRequest("alioth", "1.0", DATE, out=tmp_path / "store"))
    signers = {}
    with zipfile.ZipFile(result.target_files) as zf:
        for name in zf.namelist():
            if name.startswith("PRODUCT/overlay/") and name.endswith(".apk"):
                apk = tmp_path / Path(name).name
                apk.write_bytes(zf.read(name))
                certs = subprocess.run(["apksigner", "verify", "--print-certs", str(apk)], capture_output=True,
                                       text=True, check=True).stdout
                signers[Path(name).name] = "CN=romforge-team-key" in certs
    locale = [n for n in signers if n.startswith("romforge-locale-")]
    feature = [n for n in signers if not n.startswith("romforge-locale-")]
    assert locale and feature, signers  # both kinds of RRO are in the build
    assert all(signers.values()), signers


def test_a_damaged_build_info_is_named(workspace: Path, tmp_path: Path) -> None:
    ctx = BuildContext.create(load_workspace(workspace))
    request = BuildRequest("cepheus", "1.0", DATE, out=tmp_path / "store")
    result = build_release(ctx, request)
    info = result.release / "build-info.json"
    assert read_build_info(result.release) == result.build_info
    data = json.loads(info.read_text())
    del data["outputs"]["target-files.zip"]["sha256"]
    os.chmod(info, 0o644)
    info.write_text(json.dumps(data))
    with pytest.raises(ReleaseError) as err:
        build_release(ctx, request)
    assert err.value.file.endswith("cepheus/1.0/build-info.json")
    assert "damaged" in err.value.message and "outputs" in err.value.message
