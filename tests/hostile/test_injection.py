"""No unescaped interpolation: hostile names never become debugfs, fs_config or file_contexts lines.

The name is the one from issue #15: it ends a debugfs request with a quote and a line break,
then runs `lcd ..` and `dump`, which on the old code wrote a file beside the output.
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from hostile.conftest import Case, check
from romforge.errors import InputError
from romforge.ota.debugfs import file_blocks
from romforge.ota.images import build_image, file_map
from romforge.tree import RomTree, format_fs_config, stage

HOSTILE = 'x"\nlcd ..\ndump <12> pwned\n'


def test_a_hostile_name_reaching_the_ext4_builder_runs_no_debugfs_command(
        sample_rom: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Past every edge (written straight into a staged tree), the name still cannot drive debugfs."""
    tree = stage(RomTree.open(sample_rom), tmp_path / "stage")
    tree.write_file("odm", HOSTILE, b"secret\n")
    canary = tmp_path / "beside"
    work = canary / "out"
    work.mkdir(parents=True)
    monkeypatch.chdir(work)  # `lcd ..` would land in `canary`
    out = work / "odm.img"
    try:
        image = build_image(tree, "odm", "ext4", out, workdir=work)
    except InputError as exc:
        refused: InputError | None = exc
    else:
        refused = None
    assert sorted(p.name for p in canary.iterdir()) == ["out"]
    assert not any(p.name == "pwned" for p in tmp_path.rglob("*"))
    if refused is not None:
        assert "line break" in str(refused) and not out.exists()
    else:  # built: the file must be in the image under its own name, found by inode
        assert HOSTILE in file_map(image.path)


def test_the_block_map_reader_sends_debugfs_no_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An ext4 image made by mke2fs itself, holding quote-and-newline names: read, never obeyed."""
    root = tmp_path / "root"
    (root / 'd"ir').mkdir(parents=True)
    (root / 'd"ir' / 'a"b').write_bytes(b"quoted\n" * 1000)
    (root / "plain").write_bytes(b"plain\n" * 1000)
    image = tmp_path / "quoted.img"
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-b", "4096", "-d", str(root), str(image), "64"], check=True,
                   env={"PATH": "/usr/sbin:/sbin:/usr/bin:/bin", "E2FSPROGS_FAKE_TIME": "1230768000"})
    blocks = file_blocks("debugfs", image)
    data = image.read_bytes()
    for path, content in (('d"ir/a"b', b"quoted\n" * 1000), ("plain", b"plain\n" * 1000)):
        got = b"".join(data[s * 4096:(s + n) * 4096] for s, n in blocks[path])
        assert got[:len(content)] == content
    (root / HOSTILE).write_bytes(b"x")
    hostile = tmp_path / "hostile.img"
    subprocess.run(["mke2fs", "-q", "-t", "ext4", "-b", "4096", "-d", str(root), str(hostile), "64"], check=True,
                   env={"PATH": "/usr/sbin:/sbin:/usr/bin:/bin"})
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    with pytest.raises(InputError, match="line break"):
        file_blocks("debugfs", hostile)
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "cwd" / "pwned").exists()


@pytest.mark.parametrize("name", ["SYSTEM/" + HOSTILE.rstrip("\n"), "SYSTEM/etc/with space.conf",
                                  "VENDOR/etc/tab\tname", "SYSTEM/cr\rname", "ODM/bidi\u202ename"])
def test_fs_config_cannot_carry_it_so_the_base_rom_is_refused_naming_archive_and_entry(
        name: str, tmp_path: Path) -> None:
    """At the edge where base ROM entries enter (tree/reading.py): refused, never mangled."""
    base = tmp_path / "base.zip"
    with zipfile.ZipFile(base, "w") as zf:
        zf.writestr("SYSTEM/build.prop", "ro.build.id=x\n")
        zf.writestr(name, "x")
    with pytest.raises(InputError) as caught:
        RomTree.open(base)
    text = str(caught.value)
    assert "base.zip: entry " in text and "fs_config and file_contexts lines cannot carry" in text
    assert repr(name)[:12] in text


def test_a_base_rom_directory_with_a_line_break_in_a_name_is_refused(sample_rom: Path, tmp_path: Path) -> None:
    import shutil

    base = tmp_path / "base"
    shutil.copytree(sample_rom, base, symlinks=True)
    (base / "SYSTEM" / "etc" / HOSTILE).write_text("x")
    with pytest.raises(InputError, match="fs_config and file_contexts lines cannot carry") as caught:
        RomTree.open(base)
    assert "SYSTEM/etc/x" in str(caught.value)


def test_the_fs_config_writer_refuses_a_line_break_it_is_handed(sample_rom: Path, tmp_path: Path) -> None:
    tree = stage(RomTree.open(sample_rom), tmp_path / "stage")
    tree.write_file("system", "bin/ok\nsystem/bin/sh 0 0 6755", b"x")
    with pytest.raises(InputError, match="cannot write the fs_config line"):
        format_fs_config(tree.iter_entries("system"))


def test_every_cli_entry_refuses_the_hostile_name(sample_rom: Path, tmp_path: Path, workspace: Path) -> None:
    """`ota full` on a hostile target-files zip, `build --base` with it, and an
    overlay placing the hostile path: each refused naming the file, nothing beside the output."""
    import shutil

    hostile_zip = tmp_path / "hostile-tf.zip"
    with zipfile.ZipFile(hostile_zip, "w") as zf:
        for p in sorted(sample_rom.rglob("*")):
            if p.is_file() and not p.is_symlink():
                zf.write(p, str(p.relative_to(sample_rom)))
        zf.writestr("ODM/etc/" + HOSTILE, "x")
    canary = tmp_path / "canary"
    canary.mkdir()
    out = canary / "out"
    out.mkdir()
    overlay = workspace / "overlays" / "evil"
    overlay.mkdir()
    (overlay / "overlay.toml").write_text(
        'name = "evil"\nversion = "1"\n\n[[files]]\npartition = "odm"\n'
        f'path = {_toml_basic("etc/" + HOSTILE)}\ncontent = "x"\n')
    cases = [
        Case("ota full", ["ota", "full", hostile_zip, "-o", out / "full.zip", "-k", workspace / "keys/releasekey"],
             cwd=out, names="hostile-tf.zip", says="fs_config", absent=[out / "full.zip"], quiet_dirs=[canary]),
        Case("build --base", ["build", "alioth", "-V", "2026.48.1", "--base", hostile_zip,
                              "--out", out / "releases"], cwd=workspace, names="hostile-tf.zip", says="fs_config",
             absent=[out / "releases"], quiet_dirs=[canary]),
        Case("overlay check", ["overlay", "check", "--all"], cwd=workspace, exit=3, names="overlays/evil/overlay.toml",
             says="holds whitespace", quiet_dirs=[canary]),
    ]
    check(cases, tmp_path)
    shutil.rmtree(out)


def _toml_basic(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
