"""Real inputs for the AVB tests, made on the fly: erofs images from a temporary folder
(Debian's mkfs.erofs), random-byte images, and PEM keys of any kind."""

from __future__ import annotations

import os
import random
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

EPOCH = "1230768000"


def erofs_image(out: Path, *, seed: int, files: int = 24, size: int = 3 << 20) -> Path:
    """An erofs image of a folder of `files` files holding about `size` bytes of seeded random data."""
    rng = random.Random(seed)
    root = out.with_suffix(".d")
    root.mkdir(parents=True)
    for i in range(files):
        sub = root / f"dir{i % 4}"
        sub.mkdir(exist_ok=True)
        (sub / f"file{i}.bin").write_bytes(rng.randbytes(size // files + rng.randrange(4096)))
    for path in sorted(root.rglob("*"), reverse=True) + [root]:
        os.utime(path, (int(EPOCH), int(EPOCH)))
    subprocess.run(["mkfs.erofs", "--quiet", "-T", EPOCH, "-U", "6f1d7c8e-2a4b-5c3d-9e8f-0a1b2c3d4e5f",
                    str(out), str(root)], check=True, capture_output=True)
    return out


def random_image(out: Path, size: int, *, seed: int) -> Path:
    out.write_bytes(random.Random(seed).randbytes(size))
    return out


def rsa_pem(out: Path, bits: int, *, exponent: int = 65537) -> Path:
    key = rsa.generate_private_key(public_exponent=exponent, key_size=bits)
    out.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                      serialization.NoEncryption()))
    return out


def ec_pem(out: Path) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    out.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                      serialization.NoEncryption()))
    return out


def flip(path: Path, offset: int) -> None:
    """Change one byte of a file in place."""
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0x40]))
