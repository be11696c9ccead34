"""The A/B OTA package: payload.bin (STORED), payload_properties.txt, META-INF/com/android/metadata
(+ metadata.pb), whole-file signed by AOSP's signapk -w (Debian's signapk).

ota-property-files lists where each entry's bytes sit in the final, signed zip so that a
streaming client can fetch them with range requests. Offsets are only known after signing,
so (as releasetools does) the metadata is written with space reserved, the zip is signed,
offsets are read from it, and the metadata is written again at the same length and signed
again; the offsets are then checked against the final zip.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from romforge.numbers import ascii_uint
from romforge.archive import check_members, open_zip, read_member
from romforge.errors import InputError, ToolFailedError
from romforge.run.tools import Tools
from romforge.safeio import open_regular_file
from romforge.ota.keys import OtaKey
from romforge.ota.proto import ota_metadata_pb2 as om
from romforge.tree import ZIP_DATE, check_member_name
from romforge.run.process import run_program

PAYLOAD = "payload.bin"
PROPERTIES = "payload_properties.txt"
METADATA = "META-INF/com/android/metadata"
METADATA_PB = "META-INF/com/android/metadata.pb"
OTACERT = "META-INF/com/android/otacert"
CARE_MAP = "care_map.pb"  # STORED, named in the property files (AOSP's optional AbOtaPropertyFiles entry)
PROPERTY_FILES_RESERVED = 512  # bytes reserved for each property-files string
MAX_MEMBERS = 64
PAYLOAD_MAGIC = b"CrAU"
PROPERTY_FILE_ALIASES = {"metadata": METADATA, "metadata.pb": METADATA_PB}  # tokens that are not entry names
EOCD = struct.Struct("<4s4H2LH")
LOCAL_HEADER = struct.Struct("<4s5H3L2H")


@dataclass(frozen=True)
class BuildState:
    """One side of an update, as read from a target-files' build.prop."""

    device: str
    fingerprint: str
    incremental: str
    timestamp: int
    sdk_level: str = ""
    security_patch: str = ""
    partitions: tuple[str, ...] = ()


@dataclass
class OtaMetadata:
    post: BuildState
    pre: BuildState | None = None
    property_files: dict[str, str] = field(default_factory=dict)

    def text_items(self) -> dict[str, str]:
        items = {
            "ota-required-cache": "0",
            "ota-type": "AB",
            "post-build": self.post.fingerprint,
            "post-build-incremental": self.post.incremental,
            "post-sdk-level": self.post.sdk_level,
            "post-security-patch-level": self.post.security_patch,
            "post-timestamp": str(self.post.timestamp),
            "pre-device": self.post.device,
        }
        if self.pre is not None:
            items["pre-build"] = self.pre.fingerprint
            items["pre-build-incremental"] = self.pre.incremental
        items.update(self.property_files)
        return dict(sorted(items.items()))

    def text(self) -> bytes:
        return "".join(f"{k}={v}\n" for k, v in self.text_items().items()).encode()

    def proto(self) -> bytes:
        msg = om.OtaMetadata()
        msg.type = om.OtaMetadata.AB
        for key, value in sorted(self.property_files.items()):
            msg.property_files[key] = value
        _state(msg.postcondition, self.post, with_device=True)
        msg.precondition.device.append(self.post.device)
        if self.pre is not None:
            _state(msg.precondition, self.pre, with_device=False)
        return msg.SerializeToString(deterministic=True)


def _state(msg: om.DeviceState, state: BuildState, *, with_device: bool) -> None:
    if with_device:
        msg.device.append(state.device)
    msg.build.append(state.fingerprint)
    msg.build_incremental = state.incremental
    msg.timestamp = state.timestamp
    msg.sdk_level = state.sdk_level
    msg.security_patch_level = state.security_patch
    for name in state.partitions:
        part = msg.partition_state.add()
        part.partition_name = name
        part.device.append(state.device)
        part.build.append(state.fingerprint)
        part.version = str(state.timestamp)


# ---- writing ------------------------------------------------------------------------


def _zipinfo(name: str, stored: bool) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
    info.create_system = 3
    info.external_attr = 0o100644 << 16
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    return info


def _write_unsigned(dest: Path, payload: Path, properties: str, metadata: OtaMetadata,
                    care_map: bytes | None = None) -> None:
    with zipfile.ZipFile(dest, "w", allowZip64=True) as zf:
        with open(payload, "rb") as src, zf.open(_zipinfo(PAYLOAD, True), "w", force_zip64=True) as out:
            shutil.copyfileobj(src, out, 1 << 20)
        zf.writestr(_zipinfo(PROPERTIES, True), properties.encode())
        if care_map is not None:
            zf.writestr(_zipinfo(CARE_MAP, True), care_map)
        zf.writestr(_zipinfo(METADATA, True), metadata.text())
        zf.writestr(_zipinfo(METADATA_PB, True), metadata.proto())


def signapk(unsigned: Path, signed: Path, key: OtaKey) -> None:
    tools = Tools()
    proc = run_program([tools.path("java"), "-jar", str(tools.signapk_jar()), "-w", str(key.cert), str(key.pk8), str(unsigned),
                           str(signed)], capture_output=True, text=True)
    if proc.returncode != 0:
        detail = "; ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise ToolFailedError(f"signapk -w failed: {detail}")


def _property_files(zip_path: Path, payload_metadata_size: int, *, reserve: bool) -> dict[str, str]:
    """ota-property-files / ota-streaming-property-files: NAME:OFFSET:SIZE of each entry in the zip."""
    spans = entry_spans(zip_path)
    tokens = []
    offset, _ = spans[PAYLOAD]
    tokens.append(f"payload_metadata.bin:{offset}:{payload_metadata_size}")
    for name in (PAYLOAD, PROPERTIES, CARE_MAP):
        if name in spans:
            tokens.append(f"{name}:{spans[name][0]}:{spans[name][1]}")
    for name, token in ((METADATA, "metadata"), (METADATA_PB, "metadata.pb")):
        tokens.append(f"{token}:{spans[name][0]}:{spans[name][1]}" if not reserve else f"{token}:{' ' * 15}")
    value = ",".join(tokens)
    if len(value) > PROPERTY_FILES_RESERVED:
        raise ToolFailedError("property-files string outgrew its reserved space")
    padded = value.ljust(PROPERTY_FILES_RESERVED)
    return {"ota-property-files": padded, "ota-streaming-property-files": padded}


def write_ota_package(dest: Path, payload: Path, properties: str, payload_metadata_size: int,
                      metadata: OtaMetadata, key: OtaKey, *, workdir: Path, care_map: bytes | None = None) -> None:
    """Assemble and sign the OTA zip at `dest` (with care_map.pb when given)."""
    unsigned, prelim = workdir / "ota-unsigned.zip", workdir / "ota-prelim.zip"
    metadata.property_files = _property_files_placeholder()
    _write_unsigned(unsigned, payload, properties, metadata, care_map)
    signapk(unsigned, prelim, key)
    metadata.property_files = _property_files(prelim, payload_metadata_size, reserve=False)
    _write_unsigned(unsigned, payload, properties, metadata, care_map)
    signapk(unsigned, dest, key)
    final = _property_files(dest, payload_metadata_size, reserve=False)
    if final != metadata.property_files:
        raise ToolFailedError("entry offsets moved while signing; ota-property-files would be wrong")
    unsigned.unlink()
    prelim.unlink()


def _property_files_placeholder() -> dict[str, str]:
    value = " " * PROPERTY_FILES_RESERVED
    return {"ota-property-files": value, "ota-streaming-property-files": value}


# ---- reading ------------------------------------------------------------------------


def entry_spans(zip_path: Path) -> dict[str, tuple[int, int]]:
    """name → (offset of the entry's bytes in the file, their size), from the local headers."""
    spans = {}
    with open(zip_path, "rb") as f, zipfile.ZipFile(f) as zf:
        for info in zf.infolist():
            f.seek(info.header_offset)
            header = f.read(LOCAL_HEADER.size)
            if len(header) < LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
                raise InputError(f"zip entry {info.filename!r} has no local header", file=zip_path)
            name_len, extra_len = struct.unpack_from("<HH", header, 26)
            spans[info.filename] = (info.header_offset + LOCAL_HEADER.size + name_len + extra_len, info.compress_size)
    return spans


@dataclass
class OtaPackage:
    path: Path
    names: dict[str, zipfile.ZipInfo]
    spans: dict[str, tuple[int, int]]
    metadata_text: dict[str, str]
    metadata_pb: om.OtaMetadata
    properties: dict[str, str]
    is_zip: bool = True

    @property
    def payload_span(self) -> tuple[int, int]:
        return self.spans[PAYLOAD]


def open_ota_package(path: Path) -> OtaPackage:
    """Read an OTA zip defensively (names, member count, STORED payload, metadata that parses),
    or a bare payload.bin (update_engine's own test payloads come that way): then the package is
    the payload alone, with no metadata, properties or whole-file signature."""
    path = Path(path)
    if not path.is_file():
        raise InputError("OTA package not found", file=path)
    with open_regular_file(path, shown=str(path), follow_symlinks=True) as f:
        if f.read(4) == PAYLOAD_MAGIC:
            return OtaPackage(path, {}, {PAYLOAD: (0, path.stat().st_size)}, {}, om.OtaMetadata(), {}, is_zip=False)
    zf, infos = open_zip(path, source=path, message="not a readable zip; the download may be truncated")
    check_members(infos, source=path)
    try:
        with zf:
            if len(infos) > MAX_MEMBERS:
                raise InputError(f"holds {len(infos)} entries; an OTA package has a handful", file=path)
            names = {}
            for info in infos:
                check_member_name(info.filename, path)
                if info.filename in names:
                    raise InputError(f"entry {info.filename!r} appears twice", file=path)
                names[info.filename] = info
            for required in (PAYLOAD, PROPERTIES, METADATA):
                if required not in names:
                    raise InputError(f"not an A/B OTA package: {required} is missing", file=path)
            if names[PAYLOAD].compress_type != zipfile.ZIP_STORED:
                raise InputError("payload.bin must be STORED (update_engine streams it in place)", file=path)
            if CARE_MAP in names and names[CARE_MAP].compress_type != zipfile.ZIP_STORED:
                raise InputError("care_map.pb must be STORED (the property files point at its bytes)", file=path)
            small = {}
            for name in (PROPERTIES, METADATA, METADATA_PB):
                if name in names:
                    if names[name].file_size > 1 << 20:
                        raise InputError(f"{name} is {names[name].file_size} bytes, over 1 MiB", file=path)
                    small[name] = read_member(zf, names[name], source=path, max_bytes=1 << 20)
    except zipfile.BadZipFile as exc:
        raise InputError(f"not a readable zip ({exc}); the download may be truncated", file=path) from None
    except (zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise InputError(f"cannot read the zip ({exc})", file=path) from None
    spans = entry_spans(path)
    text = _key_values(small[METADATA], path, METADATA)
    props = _key_values(small[PROPERTIES], path, PROPERTIES)
    pb = om.OtaMetadata()
    if METADATA_PB in small:
        try:
            pb.ParseFromString(small[METADATA_PB])
        except Exception:
            raise InputError(f"{METADATA_PB} is not an OtaMetadata message", file=path) from None
    return OtaPackage(path, names, spans, text, pb, props)


def _key_values(data: bytes, path: Path, name: str) -> dict[str, str]:
    result = {}
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{name} is not UTF-8 text", file=path) from None
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise InputError(f"{name} line {number}: expected KEY=VALUE", file=path)
        result[key] = value
    return result


def check_metadata(pkg: OtaPackage) -> list[str]:
    """Problems in META-INF/com/android/metadata(.pb): agreement, ota-type, property-file offsets."""
    problems: list[str] = []
    if not pkg.is_zip:
        return problems  # a bare payload.bin has no package metadata
    text = pkg.metadata_text
    if text.get("ota-type") != "AB":
        problems.append(f"metadata says ota-type={text.get('ota-type')!r}, expected AB")
    pb = pkg.metadata_pb
    if METADATA_PB in pkg.names:
        expect = {
            "post-build": ",".join(pb.postcondition.build),
            "post-build-incremental": pb.postcondition.build_incremental,
            "post-timestamp": str(pb.postcondition.timestamp),
            "pre-device": ",".join(pb.precondition.device),
        }
        if pb.precondition.build:
            expect["pre-build"] = ",".join(pb.precondition.build)
        for key, value in expect.items():
            if text.get(key) != value:
                problems.append(f"metadata {key}={text.get(key)!r} disagrees with metadata.pb ({value!r})")
        for key, value in pb.property_files.items():
            if text.get(key) != value:
                problems.append(f"metadata {key} disagrees with metadata.pb")
    for token in text.get("ota-property-files", "").strip().split(","):
        if not token:
            continue
        parts = token.split(":")
        numbers = [ascii_uint(p) for p in parts[1:]] if len(parts) == 3 else []
        if len(numbers) != 2 or None in numbers:
            problems.append(f"ota-property-files entry {token[:80]!r} is not NAME:OFFSET:SIZE")
            continue
        name, offset, size = parts[0], numbers[0], numbers[1]
        if name == "payload_metadata.bin":
            if offset != pkg.payload_span[0]:
                problems.append("ota-property-files: payload_metadata.bin does not start at payload.bin")
            continue
        member = PROPERTY_FILE_ALIASES.get(name, name)  # care_map.pb, apex_info.pb, compatibility.zip…
        if member not in pkg.spans:
            problems.append(f"ota-property-files names {name!r}, which the package does not hold")
        elif pkg.names[member].compress_type != zipfile.ZIP_STORED:
            problems.append(f"ota-property-files names {name!r}, which is compressed; property files name STORED "
                            "entries only (a client reads them by byte range)")
        elif pkg.spans[member] != (offset, size):
            problems.append(f"ota-property-files says {name} is at {offset}+{size}, the zip has it at "
                            f"{pkg.spans[member][0]}+{pkg.spans[member][1]}")
    return problems


# ---- whole-file signature (signapk -w) ---------------------------------------------


@dataclass(frozen=True)
class WholeFileSignature:
    signed_length: int
    cms: bytes


def whole_file_signature(path: Path) -> WholeFileSignature:
    """The CMS block signapk -w hides in the zip comment: the archive ends with
    (u16 signature start from the end) 0xff 0xff (u16 comment size)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        if size < EOCD.size + 6:
            raise InputError("too short to be a signed OTA package", file=path)
        f.seek(size - 6)
        footer = f.read(6)
        start, marker, comment_size = struct.unpack("<HHH", footer)
        if marker != 0xFFFF:
            raise InputError("has no whole-file signature (zip comment footer missing); sign it with signapk -w",
                             file=path)
        eocd_size = comment_size + EOCD.size
        if eocd_size > size or start > comment_size or start < 6:
            raise InputError("whole-file signature footer points outside the file", file=path)
        f.seek(size - eocd_size)
        eocd = f.read(eocd_size)
    if eocd[:4] != b"PK\x05\x06" or b"PK\x05\x06" in eocd[4:]:
        raise InputError("zip end record is not where the signature footer says", file=path)
    return WholeFileSignature(size - comment_size - 2, eocd[eocd_size - start:eocd_size - 6])


WEAK_DIGESTS = {"md5": "MD5", "sha1": "SHA-1"}
DIGEST_NAMES = {"sha224": "SHA-224", "sha256": "SHA-256", "sha384": "SHA-384", "sha512": "SHA-512", **WEAK_DIGESTS}


@dataclass(frozen=True)
class WholeFileSigner:
    """What the CMS block of a signapk -w signature says about how it was made."""

    digest: str  # asn1crypto's name: "sha256", "sha1", …
    key: str  # "RSA-2048", "EC-256", …
    certificates: tuple
    signature: bytes
    signed_attrs: object
    signed_length: int

    @property
    def algorithm(self) -> str:
        return f"{DIGEST_NAMES.get(self.digest, self.digest)} with {self.key}"

    @property
    def weak(self) -> bool:
        return self.digest in WEAK_DIGESTS


def whole_file_signer(path: Path) -> WholeFileSigner | None:
    """The whole-file signature's algorithm and certificates; None when the zip is not signed.
    Raises InputError when a signature footer is there but its CMS block does not parse."""
    from asn1crypto import cms as asn1_cms
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    try:
        sig = whole_file_signature(path)
    except InputError as exc:
        if "has no whole-file signature" in exc.message:
            return None
        raise
    try:
        info = asn1_cms.ContentInfo.load(sig.cms)
        signed = info["content"]
        signer = signed["signer_infos"][0]
        digest = signer["digest_algorithm"]["algorithm"].native
        signature = signer["signature"].native
        certs = tuple(x509.load_der_x509_certificate(c.chosen.dump()) for c in signed["certificates"])
        signed_attrs = signer["signed_attrs"]
    except Exception as exc:
        raise InputError(f"the whole-file signature is not a CMS SignedData block ({type(exc).__name__})",
                         file=path) from None
    try:
        keys = [c.public_key() for c in certs]
    except ValueError as exc:
        raise InputError(f"a certificate of the whole-file signature holds a public key that does not parse "
                         f"({str(exc).split('.')[0]})", file=path) from None
    key = "unknown key"
    if keys:
        public = keys[0]
        if isinstance(public, rsa.RSAPublicKey):
            key = f"RSA-{public.key_size}"
        elif isinstance(public, ec.EllipticCurvePublicKey):
            key = f"EC-{public.curve.key_size}"
    return WholeFileSigner(digest, key, certs, signature, signed_attrs, sig.signed_length)


def verify_whole_file(path: Path, public) -> str | None:
    """None when the zip's whole-file signature is valid for `public`, else the reason it is not."""
    from romforge.ota.keys import verify_digest

    try:
        signer = whole_file_signer(path)
    except InputError as exc:
        return exc.message
    if signer is None:
        return "the zip has no whole-file signature (sign it with signapk -w)"
    if signer.weak:
        return (f"the whole-file signature uses {signer.algorithm}; {DIGEST_NAMES[signer.digest]} is a weak digest "
                "(collisions can be forged), so romforge does not trust it: re-sign the package with SHA-256")
    if signer.digest != "sha256":
        return f"whole-file signature uses {signer.algorithm}; romforge accepts SHA-256"
    if not any(c.public_key().public_numbers() == public.public_numbers() for c in signer.certificates):
        return "the package was signed with another key (its certificate does not match --key)"
    h = hashlib.sha256()
    with open(path, "rb") as f:
        remaining = signer.signed_length
        while remaining:
            chunk = f.read(min(1 << 20, remaining))
            if not chunk:
                break
            h.update(chunk)
            remaining -= len(chunk)
    digest = h.digest()
    if signer.signed_attrs.native:
        attrs = {a["type"].native: a["values"][0].native for a in signer.signed_attrs}
        if attrs.get("message_digest") != digest:
            return "the zip's bytes do not match its whole-file signature"
        der = signer.signed_attrs.dump()
        digest = hashlib.sha256(b"\x31" + der[1:]).digest()  # signed over the SET OF, not the [0] tag
    if not verify_digest(public, signer.signature, digest):
        return "the zip's bytes do not match its whole-file signature"
    return None
