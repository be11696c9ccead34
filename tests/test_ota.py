"""A/B OTA packages: full and incremental payloads of two sample ROM versions, applied by romforge
and by an independent path (Debian's xz/bzip2/bspatch and a second puffin codec, reading the source slot and writing a new image),
signatures checked with openssl, and tampered packages rejected before any image is written.

Week 2 also changes a jar and an APK (deflate-aware PUFFDIFF), renames a versioned library
(libicu72.so → libicu73.so) and renames the APK (Notes.apk → Jotter.apk, found by content)."""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import struct
import subprocess
import zipfile
from pathlib import Path

import pytest

from independent_ota import (BROTLI_BSDIFF, PUFFDIFF, REPLACE_XZ, SOURCE_COPY, apply_ab, read_payload,
                             read_payload_from_zip, wire_fields)
from otakit import zip_of
from romforge.ota.generate import ota_from_target_files, ota_partitions, target_images
from romforge.ota.images import file_map
from romforge.ota.keys import generate_test_key, load_signing_key
from romforge.samplerom import mutate_week
from romforge.tree import RomTree, materialize, stage

pytestmark = pytest.mark.xdist_group("ota-env")  # one worker builds the module's two weeks once

SIG_ASN1_SHA256 = bytes.fromhex("3031300d060960864801650304020105000420")


def week_extras(week: int) -> dict[tuple[str, str], bytes]:
    """A jar, an app and a versioned library, as week `week` ships them."""
    import random

    rng = random.Random(11)
    words = [rng.randbytes(rng.randrange(2, 7)) for _ in range(60)]

    def text(n: int) -> bytes:
        return b" ".join(rng.choice(words) for _ in range(n // 4))[:n]

    classes = {f"com/android/server/S{i:03d}.class": text(rng.randrange(500, 6000)) for i in range(50)}
    app = {f"res/raw/r{i:02d}.xml": text(rng.randrange(500, 4000)) for i in range(30)}
    lib = rng.randbytes(96 << 10) + text(160 << 10)
    if week > 1:
        for name in sorted(classes)[::10]:
            classes[name] = classes[name][:300] + b"a method added this week" + classes[name][300:]
        for name in sorted(app)[::7]:
            app[name] = app[name].replace(words[3], b"renamed", 2)
        lib = lib[:50_000] + b"\x90" * 24 + lib[50_000:-24]
    return {("system", "framework/services.jar"): zip_of(classes),
            ("product", "app/Notes/Notes.apk" if week == 1 else "app/Jotter/Jotter.apk"): zip_of(app),
            ("system", f"lib64/libicu{71 + week}.so"): lib}


def _with(base: Path, out: Path, files: dict[tuple[str, str], bytes]) -> Path:
    staged = stage(RomTree.open(base), out.parent / f"{out.name}-work")
    for (partition, path), data in files.items():
        staged.write_file(partition, path, data)
    materialize(staged, out)
    return out


@pytest.fixture(scope="module")
def ota_env(sample_rom: Path, ota_test_key: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Week 1 = the sample ROM (plus a jar, an app, a library), week 2 = it a week later; their
    images; full and incremental OTAs."""
    root = tmp_path_factory.mktemp("ota")
    old_rom = _with(sample_rom, root / "week1", week_extras(1))
    later = mutate_week(sample_rom, root / "week2-base", edits=60, adds=10, removes=6, moves=6, seed=3)
    new_rom = _with(later, root / "week2", week_extras(2))
    sample_rom = old_rom
    key = load_signing_key(ota_test_key)
    images = {}
    for name, rom in (("old", sample_rom), ("new", new_rom)):
        tree = RomTree.open(rom)
        (root / f"{name}-images").mkdir()
        images[name] = target_images(tree, ota_partitions(tree), root / f"{name}-images")
    full = ota_from_target_files(new_rom, root / "full.zip", key)
    incremental = ota_from_target_files(new_rom, root / "incremental.zip", key, old=sample_rom)
    return {"root": root, "old_rom": sample_rom, "new_rom": new_rom, "key": ota_test_key, "images": images,
            "full": full.path, "incremental": incremental.path}


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _expected(env: dict) -> dict[str, str]:
    return {name: _sha(path) for name, path in env["images"]["new"].items()}


# ---- applying: romforge and the independent path ----------------------------------------


def test_full_ota_applies_bit_exact_with_romforge(run, ota_env: dict, tmp_path: Path) -> None:
    result = run("ota", "apply", ota_env["full"], "--out", tmp_path / "out", "--key", f"{ota_env['key']}.x509.pem")
    assert result.exit_code == 0, result.output
    assert {p.stem: _sha(p) for p in (tmp_path / "out").glob("*.img")} == _expected(ota_env)


def test_incremental_ota_applies_bit_exact_with_romforge(run, ota_env: dict, tmp_path: Path) -> None:
    source = ota_env["images"]["old"]["system"].parent
    before = {p.name: _sha(p) for p in source.glob("*.img")}
    result = run("ota", "apply", ota_env["incremental"], "--source", source, "--out", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert {p.stem: _sha(p) for p in (tmp_path / "out").glob("*.img")} == _expected(ota_env)
    assert {p.name: _sha(p) for p in source.glob("*.img")} == before  # the source is only read


@pytest.mark.parametrize("kind", ["full", "incremental"])
def test_independent_ab_apply_gives_the_same_images(ota_env: dict, tmp_path: Path, kind: str) -> None:
    payload = read_payload_from_zip(ota_env[kind])
    source = ota_env["images"]["old"]["system"].parent
    digests = apply_ab(payload, source if kind == "incremental" else None, tmp_path / "out")
    assert digests == _expected(ota_env)
    for part in payload.partitions:
        assert part.new_hash.hex() == _expected(ota_env)[part.name]
    types = {op.type for part in payload.partitions for op in part.ops}
    if kind == "incremental":
        assert {SOURCE_COPY, BROTLI_BSDIFF, PUFFDIFF} <= types  # file-aware: copies, per-file diffs, zips inflated
    else:
        assert types <= {0, 1, REPLACE_XZ}


def test_incremental_is_much_smaller_than_full(ota_env: dict) -> None:
    assert ota_env["incremental"].stat().st_size * 5 < ota_env["full"].stat().st_size


def _data_for(ota: Path, image: Path, partition: str, path: str) -> tuple[int, int, set[int]]:
    """(bytes of payload data spent on the operations that write the file, its size, their types)."""
    in_image = f"system/{path}" if partition == "system" else path  # system-as-root: SYSTEM/ is under /system
    blocks = {b for start, n in file_map(image)[in_image] for b in range(start, start + n)}
    part = next(p for p in read_payload_from_zip(ota).partitions if p.name == partition)
    ops = [op for op in part.ops if any(start <= b < start + n for start, n in op.dst for b in blocks)]
    return sum(op.data_length or 0 for op in ops), len(blocks) * 4096, {op.type for op in ops}


@pytest.mark.parametrize("partition,path,most", [
    ("system", "framework/services.jar", 0.25),  # changed classes: diffed puffed (PUFFDIFF)
    ("product", "app/Jotter/Jotter.apk", 0.25),  # renamed app, found by the blocks it shares
    ("system", "lib64/libicu73.so", 0.1),  # renamed library (96 KiB of it random: 37 % if sent whole), found by name
])
def test_changed_moved_and_renamed_files_cost_a_small_part_of_their_size(ota_env: dict, partition: str, path: str,
                                                                        most: float) -> None:
    spent, size, types = _data_for(ota_env["incremental"], ota_env["images"]["new"][partition], partition, path)
    assert spent < most * size, (spent, size, types)
    if path.endswith((".jar", ".apk")):
        assert PUFFDIFF in types


# ---- what update_engine's checker insists on, read from the wire -----------------------------


@pytest.mark.parametrize("kind", ["full", "incremental"])
def test_payload_follows_the_checker_rules(ota_env: dict, kind: str) -> None:
    payload = read_payload_from_zip(ota_env[kind])
    m = {n: v for n, _, v in payload.manifest_fields if n in (3, 4, 5, 12)}
    assert m[3] == 4096 and m[12] == (0 if kind == "full" else 7)  # block_size, minor_version (explicit)
    offset = 0
    first = True
    for part in payload.partitions:
        assert (part.old_size is not None) == (kind == "incremental")  # old_partition_info on every partition
        written = [0] * (part.new_size // 4096)
        for op in part.ops:
            numbers = [n for n, _, _ in op.fields]
            assert 5 not in numbers and 7 not in numbers  # no src_length / dst_length
            for start, count in op.src + op.dst:
                assert start is not None and count > 0  # start_block set explicitly, even when 0
            for start, count in op.dst:
                for b in range(start, start + count):
                    written[b] += 1
            if op.data_length is not None:
                assert op.data_offset == offset  # contiguous from 0 in manifest order
                if first:
                    assert 2 in numbers and op.data_offset == 0  # first data_offset 0, explicitly present
                    first = False
                offset += op.data_length
                blob = payload.data[payload.data_start + op.data_offset:][:op.data_length]
                digest = [v for n, _, v in op.fields if n == 8][0]
                assert digest == hashlib.sha256(blob).digest()
                if op.type != 0:
                    assert op.data_length < sum(n for _, n in op.dst) * 4096  # compressed data is smaller
        assert set(written) == {1}  # every block written exactly once
    assert m[4] == offset  # signatures_offset equals the data length
    assert len(payload.data) == payload.data_start + m[4] + m[5]  # the file ends after the signature
    dynamic = wire_fields([v for n, _, v in payload.manifest_fields if n == 15][0])  # dynamic_partition_metadata
    group = wire_fields([v for n, _, v in dynamic if n == 1][0])
    assert [v for n, _, v in group if n == 1] == [b"qti_dynamic_partitions"]
    in_super = {p.name for p in payload.partitions} - {"boot", "init_boot", "vendor_boot", "dtbo", "vbmeta",
                                                        "vbmeta_system", "modem"}  # the boot chain is not in super
    assert {v.decode() for n, _, v in group if n == 3} == in_super
    assert [v for n, _, v in dynamic if n == 2] == [1]  # snapshot_enabled: the sample ROM is virtual A/B
    sigs = wire_fields(payload.data[payload.data_start + m[4]:])
    sig = wire_fields(sigs[0][2])
    assert len([v for n, _, v in sig if n == 2][0]) == 256  # RSA-2048


def _openssl_rsa_recover(signature: bytes, cert: Path, tmp: Path) -> bytes:
    pub = tmp / "pub.pem"
    subprocess.run(["openssl", "x509", "-in", str(cert), "-pubkey", "-noout", "-out", str(pub)], check=True)
    proc = subprocess.run(["openssl", "pkeyutl", "-verifyrecover", "-pubin", "-inkey", str(pub)],
                          input=signature, capture_output=True, check=True)
    return proc.stdout


def test_signatures_verify_with_openssl(ota_env: dict, tmp_path: Path) -> None:
    cert = Path(f"{ota_env['key']}.x509.pem")
    payload = read_payload_from_zip(ota_env["incremental"])
    header = struct.unpack(">4sQQI", payload.data[:24])
    metadata = payload.data[:24 + header[2]]
    msig = wire_fields(wire_fields(payload.data[len(metadata):len(metadata) + header[3]])[0][2])
    recovered = _openssl_rsa_recover([v for n, _, v in msig if n == 2][0], cert, tmp_path)
    assert recovered == SIG_ASN1_SHA256 + hashlib.sha256(metadata).digest()
    m = {n: v for n, _, v in payload.manifest_fields if n in (4, 5)}
    signed = metadata + payload.data[payload.data_start:payload.data_start + m[4]]
    psig = wire_fields(wire_fields(payload.data[payload.data_start + m[4]:])[0][2])
    recovered = _openssl_rsa_recover([v for n, _, v in psig if n == 2][0], cert, tmp_path)
    assert recovered == SIG_ASN1_SHA256 + hashlib.sha256(signed).digest()
    # whole-file signature (signapk -w): CMS in the zip comment over everything before the comment length
    data = ota_env["incremental"].read_bytes()
    start, marker, comment_size = struct.unpack("<HHH", data[-6:])
    assert marker == 0xFFFF
    (tmp_path / "sig.der").write_bytes(data[len(data) - start:len(data) - 6])
    (tmp_path / "signed.bin").write_bytes(data[:len(data) - comment_size - 2])
    proc = subprocess.run(["openssl", "cms", "-verify", "-inform", "DER", "-in", str(tmp_path / "sig.der"),
                           "-content", str(tmp_path / "signed.bin"), "-binary", "-noverify", "-out", "/dev/null"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_package_layout_properties_and_metadata(ota_env: dict) -> None:
    path = ota_env["incremental"]
    data = path.read_bytes()
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("payload.bin")
        assert info.compress_type == zipfile.ZIP_STORED
        payload = zf.read("payload.bin")
        props = dict(line.split("=", 1) for line in zf.read("payload_properties.txt").decode().splitlines())
        metadata = dict(line.split("=", 1) for line in zf.read("META-INF/com/android/metadata").decode().splitlines())
    assert base64.b64decode(props["FILE_HASH"]) == hashlib.sha256(payload).digest()
    assert int(props["FILE_SIZE"]) == len(payload)
    manifest_size = struct.unpack(">Q", payload[12:20])[0]
    assert int(props["METADATA_SIZE"]) == 24 + manifest_size
    assert base64.b64decode(props["METADATA_HASH"]) == hashlib.sha256(payload[:24 + manifest_size]).digest()
    assert metadata["ota-type"] == "AB"
    old_prop = (ota_env["old_rom"] / "SYSTEM/build.prop").read_text()
    new_prop = (ota_env["new_rom"] / "SYSTEM/build.prop").read_text()
    assert f"ro.system.build.fingerprint={metadata['pre-build']}" in old_prop
    assert f"ro.system.build.fingerprint={metadata['post-build']}" in new_prop
    assert f"ro.build.date.utc={metadata['post-timestamp']}" in new_prop
    assert metadata["pre-device"] == "generic_arm64"
    for token in metadata["ota-property-files"].strip().split(","):
        name, offset, size = token.split(":")
        member = {"payload_metadata.bin": "payload.bin", "metadata": "META-INF/com/android/metadata",
                  "metadata.pb": "META-INF/com/android/metadata.pb"}.get(name, name)
        with zipfile.ZipFile(path) as zf:
            expected = zf.read(member)
        chunk = data[int(offset):int(offset) + int(size)]
        assert expected.startswith(chunk) and (name == "payload_metadata.bin" or chunk == expected), name


def test_same_inputs_give_byte_identical_ota_packages(ota_env: dict, tmp_path: Path) -> None:
    key = load_signing_key(ota_env["key"])
    again = ota_from_target_files(ota_env["new_rom"], tmp_path / "inc.zip", key, old=ota_env["old_rom"])
    assert again.path.read_bytes() == ota_env["incremental"].read_bytes()
    full = ota_from_target_files(ota_env["new_rom"], tmp_path / "full.zip", key)
    assert full.path.read_bytes() == ota_env["full"].read_bytes()


def test_info_json_counts_operations(run, ota_env: dict) -> None:
    result = run("ota", "info", ota_env["incremental"], "--json")
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    payload = read_payload_from_zip(ota_env["incremental"])
    assert info["kind"] == "incremental" and info["minor_version"] == 7
    for part, raw in zip(info["partitions"], payload.partitions):
        assert part["name"] == raw.name
        assert sum(part["operations"].values()) == len(raw.ops)
        assert part["data_total"] == sum(op.data_length or 0 for op in raw.ops)
    text = run("ota", "info", ota_env["full"])
    assert "full OTA" in text.output and "REPLACE_XZ" in text.output


def test_verify_cli_accepts_a_good_package(run, ota_env: dict) -> None:
    result = run("ota", "verify", ota_env["incremental"], "--key", f"{ota_env['key']}.x509.pem")
    assert result.exit_code == 0, result.output
    assert "verified" in result.output


def test_diff_cli_writes_an_incremental(run, ota_env: dict, tmp_path: Path) -> None:
    out = tmp_path / "cli.zip"
    result = run("ota", "diff", ota_env["old_rom"], ota_env["new_rom"], "-o", out, "--key", ota_env["key"], "--json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["kind"] == "incremental"
    assert out.read_bytes() == ota_env["incremental"].read_bytes()


# ---- tampering: rejected with one clear message, before any image is written ------------------


def _rewrite_member(path: Path, name: str, change) -> None:
    """Change a STORED member's bytes in place and fix its CRC-32 (local header and central directory),
    so only romforge's own checks can notice."""
    from romforge.ota.package import entry_spans
    import zlib

    data = bytearray(path.read_bytes())
    offset, size = entry_spans(path)[name]
    member = bytearray(data[offset:offset + size])
    change(member)
    assert len(member) == size
    data[offset:offset + size] = member
    crc = struct.pack("<I", zlib.crc32(member))
    with zipfile.ZipFile(path) as zf:
        header_offset = zf.getinfo(name).header_offset
    data[header_offset + 14:header_offset + 18] = crc
    cd = data.find(b"PK\x01\x02")
    while cd != -1:
        name_len = struct.unpack_from("<H", data, cd + 28)[0]
        if data[cd + 46:cd + 46 + name_len] == name.encode():
            data[cd + 16:cd + 20] = crc
        cd = data.find(b"PK\x01\x02", cd + 46)
    path.write_bytes(bytes(data))


def _flip_blob(member: bytearray) -> None:
    payload = read_payload(bytes(member))
    op = next(op for part in payload.partitions for op in part.ops if op.data_length)
    member[payload.data_start + op.data_offset + op.data_length // 2] ^= 0x40


def _flip_manifest(member: bytearray) -> None:
    """Change the first partition's expected SHA-256: the manifest still parses."""
    payload = read_payload(bytes(member))
    at = bytes(member).index(payload.partitions[0].new_hash, 24)
    member[at] ^= 0x01


def _garble_manifest(member: bytearray) -> None:
    member[40] ^= 0x01


def _refresh_properties(path: Path) -> None:
    with zipfile.ZipFile(path) as zf:
        payload = zf.read("payload.bin")
        old = zf.read("payload_properties.txt")
    new = old.replace(old.split(b"\n")[0], b"FILE_HASH=" + base64.b64encode(hashlib.sha256(payload).digest()))
    _rewrite_member(path, "payload_properties.txt", lambda m: m.__setitem__(slice(0, len(m)), new))


def _flip_metadata(member: bytearray) -> None:
    at = bytes(member).index(b"post-timestamp=") + len("post-timestamp=")
    member[at] = ord("9") if member[at] != ord("9") else ord("8")


def _tampered(env: dict, tmp: Path, how: str) -> tuple[Path, list[str]]:
    """A broken copy of the incremental OTA and the apply arguments to try it with."""
    bad = tmp / "bad.zip"
    shutil.copy(env["incremental"], bad)
    source = str(env["images"]["old"]["system"].parent)
    args = ["--source", source]
    if how == "blob":
        _rewrite_member(bad, "payload.bin", _flip_blob)
    elif how == "blob-with-fixed-properties":
        _rewrite_member(bad, "payload.bin", _flip_blob)
        _refresh_properties(bad)
    elif how == "manifest":
        _rewrite_member(bad, "payload.bin", _flip_manifest)
    elif how == "manifest-garbled":
        _rewrite_member(bad, "payload.bin", _garble_manifest)
    elif how == "metadata":
        _rewrite_member(bad, "META-INF/com/android/metadata", _flip_metadata)
    elif how == "metadata-signed":
        _rewrite_member(bad, "META-INF/com/android/metadata", _flip_metadata)
        args += ["--key", f"{env['key']}.x509.pem"]
    elif how == "metadata-only-the-signature-covers":
        _rewrite_member(bad, "META-INF/com/android/metadata",
                        lambda m: m.__setitem__(slice(0, len(m)), bytes(m).replace(b"ota-required-cache=0",
                                                                                   b"ota-required-cache=9")))
        args += ["--key", f"{env['key']}.x509.pem"]
    elif how == "truncated":
        bad.write_bytes(env["incremental"].read_bytes()[:-5000])
    elif how == "other-key":
        other = tmp / "otherkey"
        generate_test_key(other)
        ota_from_target_files(env["new_rom"], tmp / "other.zip", load_signing_key(other), old=env["old_rom"])
        shutil.copy(tmp / "other.zip", bad)
        args += ["--key", f"{env['key']}.x509.pem"]
    elif how == "wrong-source":
        args = ["--source", str(env["images"]["new"]["system"].parent)]
    return bad, args


@pytest.mark.parametrize("how,words", [
    ("blob", "payload.bin does not match FILE_HASH"),
    ("blob-with-fixed-properties", "data blob does not match its data_sha256_hash"),
    ("manifest", "does not match METADATA_HASH: the manifest was changed"),
    ("manifest-garbled", "manifest is not a valid DeltaArchiveManifest"),
    ("metadata", "disagrees with metadata.pb"),
    ("metadata-signed", "disagrees with metadata.pb"),
    ("metadata-only-the-signature-covers", "do not match its whole-file signature"),
    ("truncated", "not a readable zip"),
    ("other-key", "signed with another key"),
    ("wrong-source", "wrong source"),
])
def test_tampered_or_mismatched_packages_are_rejected_before_writing(run, ota_env: dict, tmp_path: Path,
                                                                    how: str, words: str) -> None:
    bad, args = _tampered(ota_env, tmp_path, how)
    out = tmp_path / "out"
    result = run("ota", "apply", bad, *args, "--out", out)
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("romforge: error:")]
    assert len(errors) == 1 and words in errors[0], result.output
    assert "bad.zip" in errors[0]
    assert "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir())


def test_verify_reports_a_tampered_package_as_a_failed_check(run, ota_env: dict, tmp_path: Path) -> None:
    bad, _ = _tampered(ota_env, tmp_path, "blob-with-fixed-properties")
    result = run("ota", "verify", bad, "--key", f"{ota_env['key']}.x509.pem")
    assert result.exit_code == 3, result.output
    assert "data blob does not match" in result.output and "failed verification" in result.output
    good_but_other = run("ota", "verify", ota_env["incremental"], "--key", f"{ota_env['key']}.pk8")
    assert good_but_other.exit_code == 1  # a private key file is not a certificate: a user error
    assert "not an X.509 certificate" in good_but_other.output
