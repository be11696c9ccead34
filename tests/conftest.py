"""Shared fixtures: real artifacts built on the fly, and the real Android samples in ../shared."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from romforge.cli import cli
from romforge.samplerom import ApkCache, generate

REPO = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("ROMFORGE_SHARED", REPO.parent / "shared")) / "android-samples"


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under --dist loadgroup, xdist groups a worker's tests by an "@group" suffix it adds to their
    node ids; a pytest that ignores the suffix splits a module fixture over both workers, each
    building it (pytest 9.2 with xdist 3.8 did, unnoticed). Say so instead of running slowly."""
    if not getattr(config.option, "loadgroup", False):
        return
    lost = [item.nodeid for item in items if item.get_closest_marker("xdist_group") and "@" not in item.nodeid]
    if lost:
        raise pytest.UsageError(f"--dist loadgroup cannot group {lost[0]}: this pytest-xdist does not work with this "
                                "pytest (see the pin in pyproject.toml)")


@pytest.fixture(scope="session")
def shared() -> Path:
    """The real LineageOS files; only here may a test skip, and only when ../shared is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"real Android samples not found at {SHARED} (CI always has them)")
    return SHARED


@pytest.fixture(scope="session", autouse=True)
def kept_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ROMFORGE_CACHE_DIR for the whole test session, shared by the xdist workers: builds of
    the same base compress its image chunks and link its RROs once, not once per test. Tests that
    prove outputs do not depend on the cache build one side without it (`fresh_cache`)."""
    base = tmp_path_factory.getbasetemp()
    root = (base.parent if base.name.startswith("popen-gw") else base) / "romforge-kept-cache"
    os.environ["ROMFORGE_CACHE_DIR"] = str(root)
    return root


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """This test's builds make everything themselves (a private run directory per run)."""
    monkeypatch.delenv("ROMFORGE_CACHE_DIR")


@pytest.fixture(scope="session")
def apk_cache() -> ApkCache:
    """The sample ROMs' APKs, built once per worker and shared by every generate() of the session."""
    return ApkCache()


@pytest.fixture(scope="session")
def sample_rom(tmp_path_factory: pytest.TempPathFactory, apk_cache: ApkCache) -> Path:
    """A generic arm64 base ROM shared read-only by the tests of one worker."""
    return generate(tmp_path_factory.mktemp("base") / "sample-rom", files=300, seed=7, apk_cache=apk_cache)


@pytest.fixture(scope="session")
def ota_test_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A TEST OTA key pair made once per worker: NAME.pk8 + NAME.x509.pem; returns NAME."""
    from romforge.ota.keys import generate_test_key

    base = tmp_path_factory.mktemp("keys") / "releasekey"
    generate_test_key(base)
    return base


@pytest.fixture
def workspace(tmp_path: Path, sample_rom: Path, ota_test_key: Path) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "keys").mkdir()  # the profiles' [ota] signing_key = "keys/releasekey"
    for suffix in (".pk8", ".x509.pem"):
        shutil.copy(f"{ota_test_key}{suffix}", ws / "keys" / f"releasekey{suffix}")
    (ws / "romforge.toml").write_text(
        "[workspace]\n"
        'rom_name = "testrom"\n'
        f'base_rom = "{sample_rom}"\n'
        'releases = "releases"\n'
    )
    # the bundled profiles enable the example overlays, so a workspace needs them
    shutil.copytree(REPO / "examples/workspace/overlays", ws / "overlays")
    return ws


@pytest.fixture
def run(monkeypatch: pytest.MonkeyPatch):
    """Drive the real CLI in-process; returns click's Result."""

    def invoke(*args: str, cwd: Path | None = None):
        if cwd is not None:
            monkeypatch.chdir(cwd)
        return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)

    return invoke


def tree_snapshot(root: Path) -> dict[str, tuple]:
    """Every path under root with its kind, bytes/link target and stat metadata."""
    snap = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        rel = str(path.relative_to(root))
        if path.is_symlink():
            snap[rel] = ("link", str(path.readlink()), st.st_mode, st.st_mtime_ns)
        elif path.is_dir():
            snap[rel] = ("dir", st.st_mode, st.st_mtime_ns)
        else:
            snap[rel] = ("file", path.read_bytes(), st.st_mode, st.st_mtime_ns, st.st_uid, st.st_nlink)
    return snap


def files_under(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


def copy_tree(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst, symlinks=True)
    return dst


# ---- a base ROM with Android Verified Boot on, and one release of it (tests/avbrom.py) ----

AVB_DATE = "2026-11-27"


def romforge(*args):
    """The real CLI in-process, without changing directory (for session fixtures)."""
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def make_workspace(root: Path, base: Path, ota_key: Path, *, signing: str = "") -> Path:
    """A workspace at root/ws on `base`, the profiles' OTA key in keys/, optional [signing] lines."""
    ws = root / "ws"
    (ws / "keys").mkdir(parents=True)
    for suffix in (".pk8", ".x509.pem"):
        shutil.copy(f"{ota_key}{suffix}", ws / "keys" / f"releasekey{suffix}")
    shutil.copytree(REPO / "examples/workspace/overlays", ws / "overlays")
    (ws / "romforge.toml").write_text(f'[workspace]\nrom_name = "testrom"\nbase_rom = "{base}"\n'
                                      f'releases = "releases"\n{signing}')
    return ws


@pytest.fixture(scope="session")
def avb_ws(tmp_path_factory: pytest.TempPathFactory, apk_cache: ApkCache, ota_test_key: Path) -> Path:
    """The AVB base: an older-shaped sample (no ROOT/, no boot chain of its own) given exactly the
    AVB setup avbrom describes, so the AVB tests know every image it holds."""
    from avbrom import avb_base
    from romforge.samplerom import SampleSpec

    root = tmp_path_factory.mktemp("avbws")
    legacy = generate(root / "legacy-rom", spec=SampleSpec(system_as_root=False), files=300, seed=7,
                      apk_cache=apk_cache)
    base = avb_base(legacy, root / "avb-base", ota_cert=Path(f"{ota_test_key}.x509.pem"))
    return make_workspace(root, base, ota_test_key)


@pytest.fixture(scope="session")
def avb_release(avb_ws: Path) -> tuple[Path, str]:
    """One release of the AVB base, built once per worker through the CLI: (release dir, build log).
    Read-only: tests that change it work on a copy."""
    result = romforge("build", "alioth", "--version", "1.0", "--date", AVB_DATE, "--workspace", avb_ws)
    assert result.exit_code == 0, result.output
    return avb_ws / "releases/alioth/1.0", result.output
