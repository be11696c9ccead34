from __future__ import annotations

import subprocess
import zipfile
from pathlib import Path

import pytest

from romforge.errors import ToolFailedError
from romforge.rro import SigningKey, build_rro


def _res(tmp: Path, qualifier: str, body: str) -> Path:
    values = tmp / "res" / f"values{qualifier}"
    values.mkdir(parents=True)
    (values / "strings.xml").write_text(f'<?xml version="1.0" encoding="utf-8"?>\n<resources>{body}</resources>\n',
                                        encoding="utf-8")
    return tmp / "res"


def test_rro_is_signed_aligned_and_carries_overlay_manifest(tmp_path: Path) -> None:
    res = _res(tmp_path, "-zh-rCN", '<string name="app_name">浏览器</string><bool name="config_x">true</bool>')
    out = tmp_path / "overlay.apk"
    build_rro(res, out, package="org.romforge.overlay.jelly.zh_cn", target_package="org.lineageos.jelly",
              priority=10, key=SigningKey.sample())
    verify = subprocess.run(["apksigner", "verify", "-v", str(out)], capture_output=True, text=True)
    assert verify.returncode == 0 and "Verifies" in verify.stdout
    assert subprocess.run(["zipalign", "-c", "4", str(out)]).returncode == 0
    tree = subprocess.run(["aapt2", "dump", "xmltree", "--file", "AndroidManifest.xml", str(out)],
                          capture_output=True, text=True, check=True).stdout
    assert 'targetPackage(0x01010021)="org.lineageos.jelly"' in tree
    assert "isStatic(0x0101055a)=true" in tree
    assert "priority(0x0101001c)=10" in tree
    assert "hasCode(0x0101000c)=false" in tree
    resources = subprocess.run(["aapt2", "dump", "resources", str(out)], capture_output=True, text=True,
                               check=True).stdout
    assert '(zh-rCN) "浏览器"' in resources
    with zipfile.ZipFile(out) as zf:
        assert "resources.arsc" in zf.namelist()


def test_rro_bytes_are_reproducible(tmp_path: Path) -> None:
    res = _res(tmp_path, "", '<integer name="config_n">3</integer>')
    build_rro(res, tmp_path / "a.apk", package="p.a", target_package="android", key=SigningKey.sample())
    build_rro(res, tmp_path / "b.apk", package="p.a", target_package="android", key=SigningKey.sample())
    assert (tmp_path / "a.apk").read_bytes() == (tmp_path / "b.apk").read_bytes()


def test_aapt2_abort_on_unclosed_tag_is_a_clean_failure(tmp_path: Path) -> None:
    res = _res(tmp_path, "", '<string name="x"><b>text</string>')
    with pytest.raises(ToolFailedError) as err:
        build_rro(res, tmp_path / "x.apk", package="p.x", target_package="android", key=SigningKey.sample())
    assert "aapt2 failed" in err.value.message
