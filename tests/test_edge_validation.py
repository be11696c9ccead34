"""Validation at the edge: values the formats they reach cannot carry are refused when read.

Profile strings reach build.prop and HTML, overlay paths reach fs_config and file_contexts
lines, numbers reach fixed-width fields: each hostile value is refused by the real CLI
with exit 1, one message naming the file and line, no traceback and nothing built.
"""

from __future__ import annotations

import textwrap
import tomllib
from pathlib import Path

import pytest

from conftest import files_under
from overlaykit import DATE, device, write_overlay


def _line(text: str, start: str) -> int:
    return next(n for n, t in enumerate(text.splitlines(), start=1) if t.startswith(start))


def _refused(result, where: str, words: str) -> None:
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    assert where in result.output, result.output
    assert words in result.output, result.output


# ---- device profiles ---------------------------------------------------------------------

PROFILE_CASES = {
    "model with a newline (a second build.prop line)": ('model = "Mi 9\\nro.debuggable=1"', "'model' holds a line break"),
    "brand with a NUL": ('brand = "Acme\\u0000"', "'brand' holds a control character"),
    "manufacturer with an escape sequence": ('manufacturer = "\\u001b[2J<b>"', "'manufacturer' holds a control"),
    "model with a Unicode line separator": ('model = "Mi\\u2028 9"', "'model' holds a line break"),
    "title with a carriage return": ('[bootanimation]\ntitle = "Thanks\\r"', "'bootanimation.title' holds a line"),
    "build date in Arabic-Indic digits": ('build_date = "٢٠٢٦-١١-٢٧"', "'build_date' is not a valid date"),
    "build date in superscript digits": ('build_date = "²⁰²⁶-11-27"', "'build_date' is not a valid date"),
    "page size as superscript digits": ('page_size = "²³"', "'page_size' must be a integer, not a string"),
    "a 31-digit screen width": ("[screen]\nwidth = 1000000000000000000000000000000", "must be between 120 and 8192"),
    "a key nested 40 deep": ("abis = " + "[" * 40 + "]" * 40, "nested more than"),
}


@pytest.mark.parametrize("case", sorted(PROFILE_CASES))
def test_hostile_profile_values_are_refused_with_file_and_line(run, tmp_path: Path, case: str) -> None:
    value, words = PROFILE_CASES[case]
    text = f'inherits = "common-arm64"\ncodename = "evil"\n{value}\n'
    (tmp_path / "device-profiles").mkdir()
    (tmp_path / "device-profiles/evil.toml").write_text(text, encoding="utf-8")
    result = run("profile", "show", "evil", cwd=tmp_path)
    key = value.split("\n")[-1].split(" ")[0]
    _refused(result, f"device-profiles/evil.toml:{_line(text, key)}:", words)


# ---- romforge.toml -----------------------------------------------------------------------

WORKSPACE_CASES = {
    "issues_url reading attributes through str.format": (
        '[publish]\nissues_url = "https://x.org/{id}/{id.__class__}"', "issues_url", "no other braces"),
    "signing key path with a NUL": ('[signing]\nota_key = "keys/a\\u0000b"', "ota_key", "holds a control character"),
    "romtype with a newline": ('[publish]\nromtype = "weekly\\nnightly"', "romtype", "is not a valid ROM type"),
    "base_url with a space": ('[publish]\nbase_url = "https://x.org/a b"', "base_url", "is not a valid http(s) URL"),
}


@pytest.mark.parametrize("case", sorted(WORKSPACE_CASES))
def test_hostile_workspace_values_are_refused_with_file_and_line(run, workspace: Path, case: str) -> None:
    extra, key, words = WORKSPACE_CASES[case]
    config = workspace / "romforge.toml"
    config.write_text(config.read_text() + extra + "\n", encoding="utf-8")
    result = run("build", "cepheus", "--version", "1", "--date", DATE, cwd=workspace)
    _refused(result, f"romforge.toml:{_line(config.read_text(), key)}:", words)
    assert files_under(workspace / "releases") == []


# ---- overlays ----------------------------------------------------------------------------

OVERLAY_CASES = {
    "path with a newline (a second fs_config line)": (
        '[[files]]\npath = "etc/x\\nsystem/bin/sh 0 0 6755"\ncontent = "x"', "path =", "holds whitespace"),
    "path with a carriage return": ('[[files]]\npath = "etc/x\\r"\ncontent = "x"', "path =", "holds whitespace"),
    "path with a space": ('[[files]]\npath = "etc/my file.conf"\ncontent = "x"', "path =",
                          "fs_config and file_contexts lines cannot carry"),
    "path with a tab": ('[[files]]\npath = "etc/a\\tb"\ncontent = "x"', "path =", "holds whitespace"),
    "path with an escape character": ('[[files]]\npath = "etc/\\u001b[31m"\ncontent = "x"', "path =",
                                      "a control or invisible character"),
    "path with a line separator": ('[[files]]\npath = "etc/a\\u2028b"\ncontent = "x"', "path =", "holds whitespace"),
    "XML edit of a path with a space": ('[[xml]]\npath = "etc/permissions/a b.xml"\nremove = "//x"', "path =",
                                        "holds whitespace"),
    "symlink target with a newline": ('[[files]]\naction = "symlink"\npath = "etc/l"\ntarget = "a\\nb"', "target =",
                                      "holds whitespace"),
    "a 300-byte file name": (f'[[files]]\npath = "etc/{"a" * 300}"\ncontent = "x"', "path =",
                             "over Linux's limit of 255 bytes"),
    "remove of system build.prop": ('[[files]]\naction = "remove"\npath = "build.prop"', "path =",
                                    "cannot remove /system/build.prop: every build stamps its build.prop"),
    "remove of product etc/build.prop": ('[[files]]\naction = "remove"\npartition = "product"\npath = "etc/build.prop"',
                                         "path =", "cannot remove /product/etc/build.prop"),
    "remove of the folder holding build.prop": ('[[files]]\naction = "remove"\npartition = "odm"\npath = "etc"',
                                                "path =", "cannot remove /odm/etc/build.prop"),
    "symlink over vendor build.prop": ('[[files]]\naction = "symlink"\npartition = "vendor"\npath = "build.prop"\n'
                                       'target = "/dev/null"', "path =", "cannot replace with a symlink"),
    "mode in Arabic-Indic digits": ('[[files]]\npath = "etc/x"\ncontent = "x"\nmode = "٠٦٤٤"', "mode =",
                                    "'mode' must be an octal mode"),
    "device pattern with other digits": ('devices = ["page_size:١٦٣٨٤"]\n[props.system.set]\n"a.b" = "1"',
                                         "devices =", "is not a page size"),
    "priority beyond 32 bits": ('[[resources]]\ntarget = "android"\npriority = 1099511627776\n'
                                '[resources.bools]\nconfig_x = true', "priority =", "must be between"),
    "resource integer beyond 32 bits": ('[[resources]]\ntarget = "android"\n[resources.integers]\n'
                                        "config_n = 1099511627776", "config_n =", "does not fit a 32-bit"),
    "resource string XML cannot carry": ('[[resources]]\ntarget = "android"\n[resources.strings]\n'
                                         'config_s = "a\\u0001b"', "config_s =", "which XML cannot carry"),
    "prop value with an escape character": ('[props.system.set]\n"ro.x" = "a\\u001bb"', '"ro.x"',
                                            "control character"),
    "description that rewrites the terminal": ('description = "ok\\u001b[2K"\n[props.system.set]\n"a.b" = "1"',
                                               "description =", "'description' holds a control character"),
}


@pytest.mark.parametrize("case", sorted(OVERLAY_CASES))
def test_hostile_overlay_values_are_refused_at_read_time(run, workspace: Path, case: str) -> None:
    body, key, words = OVERLAY_CASES[case]
    root = write_overlay(workspace, "edgy", 'name = "edgy"\nversion = "1"\n' + body + "\n")
    text = (root / "overlay.toml").read_text(encoding="utf-8")
    result = run("build", device(workspace, ["edgy"]), "--version", "1", "--date", DATE, cwd=workspace)
    _refused(result, f"overlays/edgy/overlay.toml:{_line(text, key)}:", words)
    assert files_under(workspace / "releases") == []


@pytest.mark.parametrize("header,words", [
    ("@@ -١,١ +١,١ @@", "malformed hunk header"),
    ("@@ -1," + "9" * 5000 + " +1,1 @@", "malformed hunk header"),
])
def test_patch_hunk_headers_take_ascii_digits_only(run, workspace: Path, header: str, words: str) -> None:
    diff = f"--- a/system/etc/x.rc\n+++ b/system/etc/x.rc\n{header}\n-a\n+b\n"
    write_overlay(workspace, "patchy", 'name = "patchy"\nversion = "1"\n[[patches]]\nfile = "p.diff"\n',
                  {"p.diff": diff})
    result = run("build", device(workspace, ["patchy"]), "--version", "1", "--date", DATE, cwd=workspace)
    _refused(result, "overlays/patchy/p.diff:3:", words)


def test_patch_target_with_a_space_is_refused(run, workspace: Path) -> None:
    diff = "--- a/system/etc/my init.rc\n+++ b/system/etc/my init.rc\n@@ -1 +1 @@\n-a\n+b\n"
    write_overlay(workspace, "patchy", 'name = "patchy"\nversion = "1"\n[[patches]]\nfile = "p.diff"\n',
                  {"p.diff": diff})
    result = run("build", device(workspace, ["patchy"]), "--version", "1", "--date", DATE, cwd=workspace)
    _refused(result, "overlays/patchy/overlay.toml:4:", "fs_config and file_contexts lines cannot carry")


# ---- overlay import: a hostile device tree cannot write TOML ----------------------------

MANIFEST = textwrap.dedent("""\
    <manifest xmlns:android="http://schemas.android.com/apk/res/android" package="org.evil.overlay">
      <overlay android:targetPackage="com.android.systemui" android:priority="{priority}" android:isStatic="true"/>
    </manifest>
    """)


def _rro(tree: Path, folder: str, priority: str = "1") -> Path:
    rro = tree / folder
    (rro / "res/values").mkdir(parents=True)
    (rro / "AndroidManifest.xml").write_text(MANIFEST.format(priority=priority))
    (rro / "res/values/config.xml").write_text('<resources><bool name="config_x">true</bool></resources>')
    return rro


def test_import_of_a_folder_name_holding_a_table_adds_no_table(run, tmp_path: Path) -> None:
    hostile = 'Evil"\n[[files]]\npath = "xbin.su"\nsource = "config.xml"\nmode = "6755"\nuid = 0\n#'  # no '/': one folder
    _rro(tmp_path / "rro_overlays", hostile)
    result = run("overlay", "import", tmp_path / "rro_overlays", "-o", "overlays/evil", cwd=tmp_path)
    assert result.exit_code == 0, result.output
    written = (tmp_path / "overlays/evil/overlay.toml").read_text(encoding="utf-8")
    data = tomllib.loads(written)
    assert set(data) == {"name", "version", "description", "resources"}
    assert data["resources"] == [{"target": "com.android.systemui", "package": "org.evil.overlay",
                                  "partition": "vendor", "priority": 1, "res": "res"}]
    comments = [line for line in written.splitlines() if line.lstrip().startswith("#")]
    assert any("[[files]]" in line and "\\n" in line for line in comments)  # kept, escaped, in one comment
    assert not any(line.startswith("[[files]]") for line in written.splitlines())


@pytest.mark.parametrize("priority", ["٣", " 5", "1_0", "9" * 5000, "4294967296"])
def test_import_refuses_priorities_aapt2_would_not_read(run, tmp_path: Path, priority: str) -> None:
    _rro(tmp_path / "rro_overlays", "Odd")
    result = run("overlay", "import", tmp_path / "rro_overlays" / "Odd", "-o", "overlays/odd", cwd=tmp_path)
    assert result.exit_code == 0  # the plain folder imports …
    rro = _rro(tmp_path / "other", "Odd", priority)
    result = run("overlay", "import", rro, "-o", "overlays/odd2", cwd=tmp_path)
    _refused(result, "AndroidManifest.xml:2:", "is not a number")
    assert not (tmp_path / "overlays/odd2").exists()
