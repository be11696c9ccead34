"""Property-based hostile inputs: hypothesis mutates real payload manifests, device profiles
(TOML), contacts (CSV) and translated strings (XML); every mutant goes through the real CLI,
many per limited subprocess. Whatever the bytes, the answer is an exit code with one message
naming the file, never a traceback, a hang or a blown memory limit.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import REPO
from hostile.conftest import Case, check
from romforge.ota.keys import load_signing_key
from romforge.ota.package import BuildState, OtaMetadata, write_ota_package
from romforge.ota.payload import HEADER

PER_EXAMPLE = 12
edits = st.lists(st.tuples(st.floats(0, 1), st.binary(min_size=1, max_size=8)), min_size=1, max_size=4)
# the same examples every run, so CI's verdict is about the change; ROMFORGE_FUZZ_RANDOM=1 explores
FUZZ = settings(max_examples=2, deadline=None, suppress_health_check=list(HealthCheck),
                derandomize=not os.environ.get("ROMFORGE_FUZZ_RANDOM"))


def _mutate(data: bytes, changes: list[tuple[float, bytes]], lo: int = 0, hi: int | None = None) -> bytes:
    out = bytearray(data)
    hi = len(out) if hi is None else hi
    for where, junk in changes:
        at = lo + int(where * max(0, hi - lo - len(junk)))
        out[at:at + len(junk)] = junk
    return bytes(out)


def _rewrapped(payload: bytes, out: Path, key_base: Path, work: Path) -> Path:
    """An OTA around `payload` whose payload_properties.txt tells the truth about it, so a forged
    manifest reaches the manifest checks instead of failing the hash check first."""
    _, _, manifest_size, signature_size = HEADER.unpack_from(payload)
    metadata_size = HEADER.size + manifest_size
    b64 = lambda d: base64.b64encode(d).decode()  # noqa: E731
    props = (f"FILE_HASH={b64(hashlib.sha256(payload).digest())}\nFILE_SIZE={len(payload)}\n"
             f"METADATA_HASH={b64(hashlib.sha256(payload[:metadata_size]).digest())}\nMETADATA_SIZE={metadata_size}\n")
    work.mkdir(parents=True, exist_ok=True)
    (work / "payload.bin").write_bytes(payload)
    state = BuildState("alioth", "romforge/alioth/alioth:14/UQ1A/1:user/release-keys", "1", 1764201600)
    write_ota_package(out, work / "payload.bin", props, metadata_size + signature_size, OtaMetadata(post=state),
                      load_signing_key(key_base), workdir=work)
    return out


@FUZZ
@given(st.lists(edits, min_size=5, max_size=5))  # each mutant is re-signed: a second or so apiece
def test_fuzzed_payload_manifests(small_ota: Path, ota_test_key: Path, tmp_path_factory: pytest.TempPathFactory,
                                  mutants: list) -> None:
    tmp = tmp_path_factory.mktemp("manifests")
    with zipfile.ZipFile(small_ota) as zf:
        payload = zf.read("payload.bin")
    _, _, manifest_size, _ = HEADER.unpack_from(payload)
    cases = []
    for number, changes in enumerate(mutants):
        forged = _mutate(payload, changes, HEADER.size, HEADER.size + manifest_size)
        ota = _rewrapped(forged, tmp / f"m{number}.zip", ota_test_key, tmp / f"w{number}")
        cases.append(Case(f"manifest #{number}", ["ota", "info", ota.name], cwd=tmp, names=ota.name,
                          exit=(0, 1)))
    check(cases, tmp)
    shutil.rmtree(tmp)


@FUZZ
@given(st.lists(edits, min_size=PER_EXAMPLE, max_size=PER_EXAMPLE))
def test_fuzzed_profiles_contacts_and_strings(workspace: Path, tmp_path_factory: pytest.TempPathFactory,
                                              mutants: list) -> None:
    tmp = tmp_path_factory.mktemp("texts")
    profile = (REPO / "device-profiles/alioth.toml").read_bytes()
    contacts = "name,number\n张三,13800138000\nLi Lei,+86 139 0000 0000\n欧阳娜娜,010-6552-1234\n".encode()
    strings = next((REPO / "examples/workspace/locales/ru-RU").rglob("strings.xml")).read_bytes()
    (tmp / "src" / "values").mkdir(parents=True)
    (tmp / "src" / "values" / "strings.xml").write_bytes(strings)  # the source the mutants translate
    cases = []
    profiles = workspace / "device-profiles"
    profiles.mkdir(exist_ok=True)
    for number, changes in enumerate(mutants):
        kind = ("toml", "csv", "xml")[number % 3]
        if kind == "toml":
            (profiles / f"fuzz{number}.toml").write_bytes(_mutate(profile, changes).replace(b"alioth", f"fuzz{number}".encode()))
            cases.append(Case(f"profile #{number}", ["profile", "show", f"fuzz{number}"], cwd=workspace,
                              names=f"fuzz{number}.toml", exit=(0, 1)))
        elif kind == "csv":
            (tmp / f"c{number}.csv").write_bytes(_mutate(contacts, changes))
            cases.append(Case(f"contacts #{number}", ["t9", "index", "--contacts", f"c{number}.csv", "-o",
                                                      f"out{number}/i.json"], cwd=tmp, names=f"c{number}.csv",
                              exit=(0, 1)))
        else:
            (tmp / f"s{number}.xml").write_bytes(_mutate(strings, changes))
            cases.append(Case(f"strings #{number}", ["locale", "check", f"s{number}.xml", "--source",
                                                     "src/values/strings.xml"], cwd=tmp,
                              names=f"s{number}.xml", exit=(0, 1, 3)))
    check(cases, tmp)
    shutil.rmtree(tmp)
    for p in profiles.glob("fuzz*.toml"):
        p.unlink()


def test_a_manifest_string_that_is_not_utf8_is_refused(small_ota: Path, ota_test_key: Path,
                                                      tmp_path: Path) -> None:
    """What the manifest fuzzing found once: protobuf hands an undecodable string field over as
    bytes, and the partition-name check raised TypeError."""
    with zipfile.ZipFile(small_ota) as zf:
        payload = zf.read("payload.bin")
    _, _, manifest_size, _ = HEADER.unpack_from(payload)
    manifest = payload[HEADER.size:HEADER.size + manifest_size]
    name = next(n for n in (b"system", b"vendor", b"product", b"boot") if n in manifest)
    forged = payload.replace(manifest, manifest.replace(name, name[:2] + b"\xff" + name[3:], 1), 1)
    ota = _rewrapped(forged, tmp_path / "bad-name.zip", ota_test_key, tmp_path / "work")
    check([Case("undecodable partition name", ["ota", "info", ota.name], cwd=tmp_path, names=ota.name,
                exit=(1,), says="not UTF-8")], tmp_path)
