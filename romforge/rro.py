"""The one place that runs aapt2, zipalign and apksigner.

Debian's aapt2 (Android 10) needs `-I framework-res.apk` for every link, even when the
target is not `android`; it aborts (SIGABRT) on some malformed XML instead of printing an
error, so a signal exit counts as a failure too.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from romforge.errors import ToolFailedError
from romforge.run.tools import Tools
from romforge.run.process import run_program

TESTKEY_DIR = Path(__file__).resolve().parent / "data" / "testkeys"
ANDROID_NS = "http://schemas.android.com/apk/res/android"


@dataclass(frozen=True)
class SigningKey:
    """A platform-style key pair: PKCS#8 DER private key + X.509 PEM certificate."""

    pk8: Path
    cert: Path

    @classmethod
    def sample(cls) -> "SigningKey":
        """romforge's bundled TEST key: for the sample ROM and tests only."""
        return cls(TESTKEY_DIR / "platform.pk8", TESTKEY_DIR / "platform.x509.pem")


def run_tool(args: list[str], *, what: str, cwd: Path | None = None) -> str:
    proc = run_program(args, cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        reason = f"killed by signal {-proc.returncode}" if proc.returncode < 0 else f"exit {proc.returncode}"
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        tail = "; ".join(detail[-4:]) if detail else "no output"
        raise ToolFailedError(f"{what}: {Path(args[0]).name} failed ({reason}): {tail}")
    return proc.stdout


def link_apk(manifest: Path, res_dir: Path | None, out: Path, *, min_sdk: int = 29,
             extra_args: tuple[str, ...] = (), tools: Tools | None = None) -> None:
    """aapt2 compile + link against framework-res, unsigned and unaligned."""
    tools = tools or Tools()
    aapt2 = tools.path("aapt2")
    with tempfile.TemporaryDirectory(prefix="romforge-aapt2-") as tmp:
        inputs = []
        if res_dir is not None and res_dir.is_dir():
            compiled = Path(tmp) / "compiled.zip"
            run_tool([aapt2, "compile", "--dir", str(res_dir), "-o", str(compiled)], what=f"compiling {res_dir}")
            inputs.append(str(compiled))
        run_tool([aapt2, "link", "--manifest", str(manifest), "-I", str(tools.framework_res()),
                  "--min-sdk-version", str(min_sdk), "--target-sdk-version", str(min_sdk),
                  *extra_args, "-o", str(out), *inputs], what=f"linking {manifest}")


def align_and_sign(unsigned: Path, out: Path, key: SigningKey, *, tools: Tools | None = None) -> None:
    """zipalign -p 4, then apksigner (v1+v2+v3 as the tool decides for the minSdk)."""
    tools = tools or Tools()
    aligned = out.with_name(out.name + ".aligned")
    try:
        run_tool([tools.path("zipalign"), "-p", "-f", "4", str(unsigned), str(aligned)], what=f"aligning {out.name}")
        run_tool([tools.path("apksigner"), "sign", "--key", str(key.pk8), "--cert", str(key.cert),
                  "--out", str(out), str(aligned)], what=f"signing {out.name}")
    finally:
        aligned.unlink(missing_ok=True)
        Path(str(out) + ".idsig").unlink(missing_ok=True)


def app_manifest(package: str, version_code: int, version_name: str, label: str | None) -> str:
    label_attr = ' android:label="@string/app_name"' if label else ""
    return (
        f'<manifest xmlns:android="{ANDROID_NS}" package={quoteattr(package)}\n'
        f'    android:versionCode="{version_code}" android:versionName={quoteattr(version_name)}>\n'
        f'  <application android:hasCode="false"{label_attr}/>\n'
        f'</manifest>\n'
    )


def strings_xml(strings: dict[str, str]) -> str:
    body = "".join(f"  <string name={quoteattr(k)}>{_aapt_escape(v)}</string>\n" for k, v in strings.items())
    return f'<?xml version="1.0" encoding="utf-8"?>\n<resources>\n{body}</resources>\n'


def _aapt_escape(value: str) -> str:
    text = escape(value).replace("\\", "\\\\").replace("'", "\\'").replace('"', '\\"')
    return text.replace("\n", "\\n")


def build_app_apk(package: str, out: Path, *, strings: dict[str, str], version_code: int = 1,
                  version_name: str = "1.0", key: SigningKey | None = None, tools: Tools | None = None) -> None:
    """A manifest-and-resources app package (no code), linked and signed for real."""
    with tempfile.TemporaryDirectory(prefix="romforge-apk-") as tmp:
        work = Path(tmp)
        manifest = work / "AndroidManifest.xml"
        manifest.write_text(app_manifest(package, version_code, version_name, strings.get("app_name")))
        values = work / "res" / "values"
        values.mkdir(parents=True)
        (values / "strings.xml").write_text(strings_xml(strings), encoding="utf-8")
        unsigned = work / "unsigned.apk"
        link_apk(manifest, work / "res", unsigned, tools=tools)
        align_and_sign(unsigned, out, key or SigningKey.sample(), tools=tools)


def rro_manifest(package: str, target_package: str, *, priority: int, is_static: bool = True,
                 target_name: str | None = None, version_code: int = 1, version_name: str = "1.0") -> str:
    """An overlay manifest the Android 10 framework (and Debian's aapt2) understands."""
    target_name_attr = f" android:targetName={quoteattr(target_name)}" if target_name else ""
    return (
        f'<manifest xmlns:android="{ANDROID_NS}" package={quoteattr(package)}\n'
        f'    android:versionCode="{version_code}" android:versionName={quoteattr(version_name)}>\n'
        f'  <overlay android:targetPackage={quoteattr(target_package)}{target_name_attr}\n'
        f'      android:isStatic="{"true" if is_static else "false"}" android:priority="{priority}"/>\n'
        f'  <application android:hasCode="false"/>\n'
        f'</manifest>\n'
    )


def build_rro(res_dir: Path, out: Path, *, package: str, target_package: str, priority: int = 0,
              is_static: bool = True, target_name: str | None = None, version_code: int = 1,
              version_name: str = "1.0", key: SigningKey, tools: Tools | None = None) -> None:
    """A signed static runtime resource overlay from an Android res/ folder.

    Links with the flags Soong's runtime_resource_overlay uses (--no-resource-deduping,
    --no-resource-removal): an overlay's values often have no default of their own. The key
    has no default: every RRO a build ships is signed with the run's RRO key (BuildContext).
    """
    with tempfile.TemporaryDirectory(prefix="romforge-rro-") as tmp:
        work = Path(tmp)
        manifest = work / "AndroidManifest.xml"
        manifest.write_text(rro_manifest(package, target_package, priority=priority, is_static=is_static,
                                         target_name=target_name, version_code=version_code,
                                         version_name=version_name))
        unsigned = work / "unsigned.apk"
        link_apk(manifest, res_dir, unsigned, extra_args=("--no-resource-deduping", "--no-resource-removal"),
                 tools=tools)
        align_and_sign(unsigned, out, key, tools=tools)


def _aapt_literal(value: str) -> str:
    """A string aapt2 keeps as text: escaped, and a leading @ or ? is not a reference."""
    text = _aapt_escape(value)
    return "\\" + text if text[:1] in ("@", "?") else text


def values_xml(values: list[tuple[str, str, object]]) -> bytes:
    """res/values XML for (element, name, value): bool, integer, string, dimen, color, string-array,
    integer-array, array. Strings are literal text; dimen/color/array items may be references."""
    body = []
    for element, name, value in values:
        if isinstance(value, (list, tuple)):
            items = "".join(f"<item>{_aapt_literal(v) if element == 'string-array' else escape(str(v))}</item>"
                            for v in value)
            body.append(f"  <{element} name={quoteattr(name)}>{items}</{element}>\n")
            continue
        if element == "bool":
            text = "true" if value else "false"
        elif element == "string":
            text = _aapt_literal(str(value))
        else:
            text = escape(str(value))
        body.append(f"  <{element} name={quoteattr(name)}>{text}</{element}>\n")
    return f'<?xml version="1.0" encoding="utf-8"?>\n<resources>\n{"".join(body)}</resources>\n'.encode()
