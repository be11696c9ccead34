"""Numbers in property files and build.prop: ASCII digits only, bounded, never a crash.

"²³".isdigit() is true and int("²³") raises; int("١٢٣") is 123; int() of 5000 digits raises.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

from hostile.conftest import Case, check, rewrite_zip

METADATA = "META-INF/com/android/metadata"
PROPERTIES = "payload_properties.txt"


def _edited(text: str, key: str, value: str) -> str:
    lines = [f"{key}={value}" if line.startswith(f"{key}=") else line for line in text.splitlines()]
    return "\n".join(lines) + "\n"


def test_ota_property_numbers_must_be_ascii_digits(small_ota: Path, tmp_path: Path) -> None:
    with zipfile.ZipFile(small_ota) as zf:
        metadata, props = zf.read(METADATA).decode(), zf.read(PROPERTIES).decode()
    files = metadata.split("ota-property-files=", 1)[1].splitlines()[0]
    cases = []
    for number, bad in enumerate(["²³", "١٢٣", "9" * 5000, "-1", " 12"]):
        forged_offsets = ",".join(f"{t.split(':')[0]}:{bad}:{t.split(':')[2]}" for t in files.split(","))
        for label, member, text in (
                ("ota-property-files", METADATA, _edited(metadata, "ota-property-files", forged_offsets)),
                ("FILE_SIZE", PROPERTIES, _edited(props, "FILE_SIZE", bad)),
                ("METADATA_SIZE", PROPERTIES, _edited(props, "METADATA_SIZE", bad))):
            name = f"{label}-{number}.zip"
            forged = rewrite_zip(small_ota, tmp_path / name, {member: text.encode()})
            cases.append(Case(f"{label} {bad[:8]!r}", ["ota", "info", forged], cwd=tmp_path, names=name))
    check(cases, tmp_path)


def test_build_prop_and_misc_info_numbers_in_a_target_files(sample_rom: Path, tmp_path: Path,
                                                           ota_test_key: Path) -> None:
    cases = []
    for label, file, key, bad in (("date", "SYSTEM/build.prop", "ro.build.date.utc", "²³"),
                                  ("date-digits", "SYSTEM/build.prop", "ro.build.date.utc", "9" * 5000),
                                  ("group", "META/dynamic_partitions_info.txt",
                                   "super_qti_dynamic_partitions_group_size", "²")):
        base = tmp_path / f"base-{label}"
        shutil.copytree(sample_rom, base, symlinks=True)
        (base / file).write_text(_edited((base / file).read_text(), key, bad))
        out = tmp_path / f"out-{label}"
        out.mkdir()
        cases.append(Case(label, ["ota", "full", base, "-o", out / "ota.zip", "-k", ota_test_key], cwd=tmp_path,
                          names=f"base-{label}", says=key if label == "group" else "ro.build.date.utc",
                          absent=[out / "ota.zip"]))
    check(cases, tmp_path)


def test_t9_indexes_of_the_wrong_shape(tmp_path: Path) -> None:
    import json

    head = {"format": "romforge-t9-index", "version": 2}
    shapes = {
        "contacts-a-dict": {**head, "keypad": "", "contacts": {"a": 1}},
        "contacts-a-number": {**head, "keypad": "", "contacts": 7},
        "spans-unicode-digits": {**head, "keypad": "", "contacts": [
            {"name": "张三", "number": "1", "options": [["zhang"], ["san"]], "spans": [["²", "³"], [1, 2]],
             "given_start": 1}]},
        "given-a-string": {**head, "keypad": "", "contacts": [
            {"name": "张三", "number": "1", "options": [["zhang"], ["san"]], "spans": [[0, 1], [1, 2]],
             "given_start": "1"}]},
    }
    cases = []
    for label, doc in shapes.items():
        (tmp_path / f"{label}.json").write_text(json.dumps(doc, ensure_ascii=False))
        cases.append(Case(label, ["t9", "query", "23", "--index", f"{label}.json"], cwd=tmp_path,
                          names=f"{label}.json"))
    (tmp_path / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    cases.append(Case("nested 100000 deep", ["t9", "query", "23", "--index", "deep.json"], cwd=tmp_path,
                      names="deep.json"))
    check(cases, tmp_path)


def test_source_date_epoch_must_be_ascii_seconds_in_range(workspace: Path, tmp_path: Path) -> None:
    cases = [Case(f"SOURCE_DATE_EPOCH={bad[:12]!r}", ["build", "alioth", "-V", f"2026.48.{n}", "--out", tmp_path / "r"],
                  cwd=workspace, says="SOURCE_DATE_EPOCH", env={"SOURCE_DATE_EPOCH": bad}, absent=[tmp_path / "r"])
             for n, bad in enumerate(["²³", "١٧٠٠٠٠٠٠٠٠", "9" * 5000, "-1", "99999999999", "1.5e9"], start=1)]
    check(cases, tmp_path)
