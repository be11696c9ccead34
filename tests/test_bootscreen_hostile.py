"""Hostile boot animations and credits, made at run time, against the real CLI in a subprocess.

Every case runs `romforge` under a time limit and a 4 GiB address-space limit and asserts
the exit code (1 for input romforge refuses, 3 where `bootanim check` reports findings),
that no traceback is printed, that the message names the file, and that nothing was
written where an output was asked for.
"""

from __future__ import annotations

import io
import os
import resource
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from PIL import Image

ROMFORGE = Path(sys.executable).parent / "romforge"
TIME_LIMIT = 120  # seconds; every case takes a few on a busy machine, a hang or a quadratic loop far more
MEMORY_LIMIT = 4 << 30
HEADER = "16 16 30\n"


def _png() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (16, 16), (200, 40, 40)).save(buf, "PNG")
    return buf.getvalue()


PNG = _png()


def _limits() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def romforge(*args: object, cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(ROMFORGE), *map(str, args)], cwd=cwd, capture_output=True, text=True,
                          timeout=TIME_LIMIT, preexec_fn=_limits, env={**os.environ, "COLUMNS": "200"})
    assert "Traceback" not in proc.stderr + proc.stdout, proc.stderr[-3000:]
    return proc


def zip_of(entries: list[tuple[str, bytes]], method: int = zipfile.ZIP_STORED) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=method) as zf:
        for name, data in entries:
            zf.writestr(zipfile.ZipInfo(name, date_time=(2009, 1, 1, 0, 0, 0)), data, compress_type=method)
    return buf.getvalue()


def anim(desc: str, frames: dict[str, bytes] | None = None, extra: list[tuple[str, bytes]] = ()) -> bytes:
    entries = [("desc.txt", desc.encode())]
    entries += sorted((frames or {"part0/00000.png": PNG}).items())
    return zip_of(entries + list(extra))


def _headers(data: bytes, name: bytes) -> tuple[int, int]:
    """Offsets of the local and central headers of the entry called `name`."""
    local = 0  # the first local header starts our archives
    while data[local + 30:local + 30 + len(name)] != name:
        local = data.index(b"PK\x03\x04", local + 4)
    central = data.index(b"PK\x01\x02")
    while data[central + 46:central + 46 + len(name)] != name:
        central = data.index(b"PK\x01\x02", central + 4)
    return local, central


def patched(data: bytes, name: str, *, flags: int | None = None, method: int | None = None,
            new_name: bytes | None = None, data_bytes: bytes | None = None) -> bytes:
    """The archive with one entry's general-purpose flags, method, name or data bytes changed."""
    out = bytearray(data)
    raw = name.encode()
    local, central = _headers(data, raw)
    if flags is not None:
        struct.pack_into("<H", out, local + 6, flags)
        struct.pack_into("<H", out, central + 8, flags)
    if method is not None:
        struct.pack_into("<H", out, local + 8, method)
        struct.pack_into("<H", out, central + 10, method)
    if new_name is not None:
        assert len(new_name) == len(raw)
        out[local + 30:local + 30 + len(raw)] = new_name
        out[central + 46:central + 46 + len(raw)] = new_name
    if data_bytes is not None:
        extra = struct.unpack_from("<H", data, local + 28)[0]
        start = local + 30 + len(raw) + extra
        out[start:start + len(data_bytes)] = data_bytes
    return bytes(out)


# ---- the archives --------------------------------------------------------------------


def _deflated_desc(desc: str = HEADER + "c 1 0 part0\n") -> bytes:
    return zip_of([("desc.txt", desc.encode()), ("part0/00000.png", PNG)], method=zipfile.ZIP_DEFLATED)


def _lzma_desc() -> bytes:
    return zip_of([("desc.txt", (HEADER + "c 1 0 part0\n").encode()), ("part0/00000.png", PNG)],
                  method=zipfile.ZIP_LZMA)


ARCHIVES = {
    # a DEFLATE stream whose first block has the reserved type: zlib refuses it
    "bad-deflate": (lambda: patched(_deflated_desc(), "desc.txt", data_bytes=b"\xff\xff\xff\xff"), 3,
                    "desc.txt: error: cannot be read"),
    "bad-lzma": (lambda: patched(_lzma_desc(), "desc.txt", data_bytes=b"\x09\x14\x05\x00" + b"\xff" * 12), 3,
                 "desc.txt: error: cannot be read"),
    "bad-crc": (lambda: patched(anim(HEADER + "c 1 0 part0\n"), "part0/00000.png", data_bytes=b"\x00"), 3,
                "part0/00000.png: error: cannot be read"),
    "encrypted": (lambda: patched(anim(HEADER + "c 1 0 part0\n"), "part0/00000.png", flags=0x1), 3,
                  "part0/00000.png: error: is encrypted"),
    "encrypted-desc": (lambda: patched(anim(HEADER + "c 1 0 part0\n"), "desc.txt", flags=0x1), 3,
                       "error: is encrypted"),
    "unknown-method": (lambda: patched(anim(HEADER + "c 1 0 part0\n"), "desc.txt", method=99), 3,
                       "desc.txt: error: cannot be read"),
    "non-utf8-name": (lambda: patched(anim(HEADER + "c 1 0 part0\n", {"part0/00000.png": PNG,
                                                                      "part0/ab.png": PNG}),
                                      "part0/ab.png", flags=0x800, new_name=b"part0/\xff\xfe.png"), 1,
                      "is flagged as a UTF-8 name but is not UTF-8"),
    "file-then-dir": (lambda: zip_of([("desc.txt", (HEADER + "c 1 0 part0\n").encode()), ("part0", b"x"),
                                      ("part0/", b""), ("part0/00000.png", PNG), ("part0/00000.png/", b""),
                                      ("desc.txt/", b"")]), 0, "1 part(s), 1 frame(s)"),
    "long-name": (lambda: anim(HEADER + "c 1 0 part0\n", extra=[("part0/" + "n" * 65_000 + ".png", PNG)]), 3,
                  "is longer than 255 bytes"),
    "truncated": (lambda: anim(HEADER + "c 1 0 part0\n")[:-30], 1, "not a zip archive"),
    "200k-parts": (lambda: anim(HEADER + "c 1 0 part0\n" * 200_000), 3, "desc.txt: error: is over the 1 MiB limit"),
    "100k-parts": (lambda: anim(HEADER + "p 1 0 a\n" * 100_000, {"a/00000.png": PNG}), 1,
                   "desc.txt:1002: plays more than 1000 parts"),
    "1000-parts-x-19000-frames": (lambda: anim(HEADER + "p 1 0 a\n" * 1000,
                                               {f"a/{i:05d}.png": PNG for i in range(19_000)}), 1,
                                  "plays 19000000 frames (each part once), over the limit"),
    "5000-digit-fps": (lambda: anim("16 16 " + "9" * 5000 + "\nc 1 0 part0\n"), 3,
                       "desc.txt:1: error: 999999999999… (5000 digits) does not fit the player's 32-bit number"),
    "5000-digit-fade": (lambda: anim(HEADER + "f 1 0 part0 " + "7" * 5000 + "\n"), 3,
                        "desc.txt:2: error: 777777777777… (5000 digits) does not fit"),
    "5000-digit-trim": (lambda: anim(HEADER + "c 1 0 part0\n", extra=[("part0/trim.txt", b"1" * 5000 + b"x1+0+0\n")]),
                        3, "trim.txt:1: error: 111111111111… (5000 digits) does not fit"),
    "5000-digit-dynamic-colors": (lambda: anim(HEADER + "dynamic_colors part0 #111111 #222222 #333333 #444444 1 "
                                               + "5" * 5000 + "\nc 1 0 part0\n"), 3, "desc.txt:2: error: 555"),
    "leading-zeros": (lambda: anim("16 16 " + "0" * 5000 + "30\nc 1 0 part0\n"), 0, "16x16 @ 30 fps"),
    "fullwidth-digits": (lambda: anim("\uff11\uff10\uff18\uff10 \uff12\uff14\uff10\uff10 \uff13\uff10\n"
                                      "c 1 0 part0\n"), 3, "is not a header, part or dynamic_colors line"),
    "superscript-digits": (lambda: anim("16 16 \u00b3\u2070\nc \u00b2 0 part0\n"), 3,
                           "is not a header, part or dynamic_colors line"),
    "superscript-frame-name": (lambda: anim(HEADER + "c 1 0 part0\n", {"part0/\u00b2\u00b3": PNG,
                                                                       "part0/12": PNG}), 0, "2 frame(s)"),
}


@pytest.mark.parametrize("case", sorted(ARCHIVES))
def test_bootanim_check_on_hostile_archives(tmp_path: Path, case: str) -> None:
    make, code, words = ARCHIVES[case]
    (tmp_path / "evil.zip").write_bytes(make())
    proc = romforge("bootanim", "check", "evil.zip", cwd=tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode == code, output[-3000:]
    assert "evil.zip" in output and words in output, output[-3000:]


@pytest.mark.parametrize("case", ["bad-deflate", "non-utf8-name", "100k-parts", "5000-digit-fps"])
def test_bootanim_preview_on_hostile_archives(tmp_path: Path, case: str) -> None:
    make, _, _ = ARCHIVES[case]
    (tmp_path / "evil.zip").write_bytes(make())
    proc = romforge("bootanim", "preview", "evil.zip", "-o", "sheet.png", "--animated", "a.gif", cwd=tmp_path)
    assert proc.returncode == 1 and "evil.zip" in proc.stderr, proc.stderr[-3000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["evil.zip"]


def test_a_corrupt_member_of_a_target_files_zip_is_named(tmp_path: Path) -> None:
    inner = anim(HEADER + "c 1 0 part0\n")
    data = zip_of([("SYSTEM/build.prop", b"ro.build.id=X\n"), ("SYSTEM/media/bootanimation.zip", inner)],
                  method=zipfile.ZIP_DEFLATED)
    (tmp_path / "target-files.zip").write_bytes(patched(data, "SYSTEM/media/bootanimation.zip",
                                                        data_bytes=b"\xff\xff\xff\xff"))
    proc = romforge("bootanim", "check", "target-files.zip", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    assert "target-files.zip: entry 'SYSTEM/media/bootanimation.zip' is damaged" in proc.stderr  # romforge/archive.py


def test_unicode_digits_in_the_screen_option_are_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "a.zip").write_bytes(anim(HEADER + "c 1 0 part0\n"))
    proc = romforge("bootanim", "check", "a.zip", "--screen", "\u00b2\u00b3x100", cwd=tmp_path)
    assert proc.returncode == 2 and "is not WIDTHxHEIGHT" in proc.stderr


# ---- files that are not regular files -------------------------------------------------


def _special(tmp_path: Path, kind: str, name: str) -> Path:
    path = tmp_path / name
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "dev-zero-link":
        path.symlink_to("/dev/zero")
    elif kind == "dev-null-link":
        path.symlink_to("/dev/null")
    else:
        raise AssertionError(kind)
    return path


SPECIAL = {"fifo": "is a FIFO", "dev-zero-link": "is a character device", "dev-null-link": "is a character device"}


@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_special_files_as_the_animation_are_refused_without_hanging(tmp_path: Path, kind: str) -> None:
    _special(tmp_path, kind, "anim.zip")
    for args in (["check", "anim.zip"], ["preview", "anim.zip", "-o", "sheet.png"],
                 ["render", "alioth", "-o", "out.zip", "--base", "anim.zip", "--credits", "c.csv"]):
        (tmp_path / "c.csv").write_text("name,handle,joined\nAnna,a,2010-01-01\n")
        proc = romforge("bootanim", *args, cwd=tmp_path)
        assert proc.returncode == 1, (args, proc.stderr)
        assert f"anim.zip: {SPECIAL[kind]}" in proc.stderr, (args, proc.stderr)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["anim.zip", "c.csv"]


@pytest.mark.parametrize("kind", sorted(SPECIAL))
def test_special_files_as_the_credits_csv_are_refused_without_hanging(tmp_path: Path, kind: str) -> None:
    _special(tmp_path, kind, "c.csv")
    proc = romforge("bootanim", "render", "alioth", "-o", "out.zip", "--credits", "c.csv", "--no-base",
                    cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    expected = "is a symlink" if kind.endswith("link") else SPECIAL[kind]  # the CSV is never followed out
    assert f"c.csv: {expected}" in proc.stderr
    assert not (tmp_path / "out.zip").exists()


def test_a_device_node_given_directly_as_the_credits_csv_is_refused(tmp_path: Path) -> None:
    proc = romforge("bootanim", "render", "alioth", "-o", "out.zip", "--credits", "/dev/zero", "--no-base",
                    cwd=tmp_path)
    assert proc.returncode == 1 and "/dev/zero: is a character device" in proc.stderr
    assert not (tmp_path / "out.zip").exists()


def test_an_oversized_credits_csv_is_refused_while_reading(tmp_path: Path) -> None:
    with open(tmp_path / "c.csv", "w") as f:
        f.write("name,handle,joined\n")
        f.write("Anna,a,2010-01-01\n" * 250_000)  # 4.5 MB, over the 4 MiB limit
    proc = romforge("bootanim", "render", "alioth", "-o", "out.zip", "--credits", "c.csv", "--no-base",
                    cwd=tmp_path)
    assert proc.returncode == 1 and "c.csv: file is over the 4194304-byte limit" in proc.stderr
    assert not (tmp_path / "out.zip").exists()


@pytest.mark.parametrize("kind", ["fifo", "dev-zero-link"])
def test_the_builds_credits_step_refuses_a_special_contributors_file(workspace: Path, kind: str) -> None:
    (workspace / "credits").mkdir()
    _special(workspace / "credits", kind, "contributors.csv")
    proc = romforge("build", "cepheus", "--version", "1.0", "--date", "2026-11-27", cwd=workspace)
    assert proc.returncode == 1, proc.stderr
    expected = "is a FIFO" if kind == "fifo" else "is a symlink"
    assert f"credits/contributors.csv: {expected}" in proc.stderr
    assert not (workspace / "releases").exists() or not any((workspace / "releases").rglob("*.zip"))


def test_the_builds_credits_step_refuses_a_hostile_base_animation(workspace: Path, sample_rom: Path,
                                                                  tmp_path: Path) -> None:
    """The base ROM's own boot animation is input too: a corrupt frame is a finding, the build stops (3)."""
    base = tmp_path / "base"
    shutil.copytree(sample_rom, base, symlinks=True)
    target = base / "PRODUCT/media/bootanimation.zip"
    target.write_bytes(patched(target.read_bytes(), "part0/00000.png", data_bytes=b"\x00\x00"))
    (workspace / "credits").mkdir()
    (workspace / "credits/contributors.csv").write_text("name,handle,joined\nAnna,a,2010-01-01\n")
    proc = romforge("build", "cepheus", "--version", "1.0", "--date", "2026-11-27", "--base", base, cwd=workspace)
    assert proc.returncode == 3, proc.stderr
    assert "/product/media/bootanimation.zip/part0/00000.png: error: cannot be read" in proc.stderr + proc.stdout
