"""`romforge avb` commands: footers, vbmeta images, info and verify (romforge/avb/)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from romforge.cli.common import echo_json, json_option, shown
from romforge.numbers import ascii_uint


@click.group()
def avb() -> None:
    """Android Verified Boot 2.0: hash and hashtree footers, vbmeta images, info and verify."""


def _avb_salt(ctx: click.Context, param: click.Parameter, value: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise click.BadParameter("give the salt as hexadecimal digits") from None


def _avb_partition_size(ctx: click.Context, param: click.Parameter, value: str | None):
    if value is None or value == "dynamic":
        return value
    try:
        return int(value, 0)
    except ValueError:
        raise click.BadParameter("a number of bytes, or 'dynamic'") from None


def _avb_props(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list[tuple[str, str]]:
    pairs = []
    for value in values:
        key, sep, text = value.partition(":")
        if not sep:
            raise click.BadParameter(f"{value!r} is not KEY:VALUE")
        pairs.append((key, text))
    return pairs


def _avb_chains(ctx: click.Context, param: click.Parameter, values: tuple[str, ...]) -> list:
    from romforge.avb import ChainPartition, load_public_key_blob

    chains = []
    for value in values:
        parts = value.split(":", 2)
        if len(parts) != 3 or ascii_uint(parts[1], max_digits=10) is None:
            raise click.BadParameter(f"{value!r} is not PARTITION:ROLLBACK_INDEX_LOCATION:KEY_FILE")
        chains.append(ChainPartition(parts[0], int(parts[1]), load_public_key_blob(Path(parts[2]))))
    return chains


def _avb_key(path: Path | None):
    from romforge.avb import load_avb_key

    return load_avb_key(path) if path is not None else None


def _avb_jobs(jobs: int | None) -> int:
    from romforge.run.cores import machine_cores

    return jobs or machine_cores()


avb_jobs_option = click.option("--jobs", "-j", type=click.IntRange(1, 64), default=None,
                               help="Processes that may hash images [default: all cores].")
avb_signing_options = [
    click.option("--key", "key", type=click.Path(path_type=Path), default=None,
                 help="PEM RSA-2048/4096 private key to sign the footer's vbmeta (default: unsigned, NONE)."),
    click.option("--algorithm", default=None, help="SHA256_RSA2048, SHA256_RSA4096, SHA512_RSA4096, … "
                                                   "(default: SHA256 with the key's size)."),
    click.option("--rollback-index", type=click.IntRange(0, 2**64 - 1), default=0, show_default=True),
    click.option("--prop", "props", multiple=True, callback=_avb_props, metavar="KEY:VALUE",
                 help="Property descriptor (repeatable)."),
    click.option("--output", "-o", "output", type=click.Path(path_type=Path), default=None,
                 help="Write the result here (default: change IMAGE in place)."),
]


def _with(options):
    def decorate(fn):
        for option in reversed(options):
            fn = option(fn)
        return fn
    return decorate


def _echo_footer(result, as_json: bool) -> None:
    if as_json:
        echo_json({**result.to_dict(), "path": shown(result.path)})
        return
    d = result.descriptor
    digest = getattr(d, "root_digest", None) or getattr(d, "digest")
    click.echo(f"{shown(result.path)}: {d.to_dict()['type']} footer for {result.partition_name}, partition "
               f"{result.partition_size} bytes, image {result.original_image_size} bytes, {d.hash_algorithm} "
               f"{digest.hex()}")


@avb.command("add-hashtree-footer")
@click.argument("image", type=click.Path(path_type=Path))
@click.option("--partition-name", required=True, help="Partition name, without A/B suffix.")
@click.option("--salt", required=True, callback=_avb_salt, help="Salt as hex (derive it from the build inputs).")
@click.option("--partition-size", default="dynamic", show_default=True, callback=_avb_partition_size,
              help="Partition size in bytes, or 'dynamic' for the smallest that fits.")
@click.option("--hash-algorithm", type=click.Choice(["sha1", "sha256", "sha512"]), default="sha256",
              show_default=True)
@_with(avb_signing_options)
@avb_jobs_option
@json_option
def avb_add_hashtree_footer(image: Path, partition_name: str, salt: bytes, partition_size, hash_algorithm: str,
                            key: Path | None, algorithm: str | None, rollback_index: int, props, output: Path | None,
                            jobs: int | None, as_json: bool) -> None:
    """Append a dm-verity hash tree, a vbmeta with its hashtree descriptor and the AVB footer to IMAGE."""
    from romforge.avb import add_hashtree_footer

    result = add_hashtree_footer(image, partition_name=partition_name, salt=salt, partition_size=partition_size,
                                 hash_algorithm=hash_algorithm, rollback_index=rollback_index, properties=props,
                                 key=_avb_key(key), algorithm=algorithm, output=output, jobs=_avb_jobs(jobs))
    _echo_footer(result, as_json)


@avb.command("add-hash-footer")
@click.argument("image", type=click.Path(path_type=Path))
@click.option("--partition-name", required=True, help="Partition name, without A/B suffix.")
@click.option("--salt", required=True, callback=_avb_salt, help="Salt as hex (derive it from the build inputs).")
@click.option("--partition-size", required=True, callback=_avb_partition_size,
              help="Partition size in bytes, or 'dynamic' (image + 68 KiB, as avbtool).")
@click.option("--hash-algorithm", type=click.Choice(["sha1", "sha256", "sha512"]), default="sha256",
              show_default=True)
@_with(avb_signing_options)
@json_option
def avb_add_hash_footer(image: Path, partition_name: str, salt: bytes, partition_size, hash_algorithm: str,
                        key: Path | None, algorithm: str | None, rollback_index: int, props, output: Path | None,
                        as_json: bool) -> None:
    """Append a vbmeta with a hash descriptor and the AVB footer to IMAGE (boot, init_boot, dtbo…)."""
    from romforge.avb import add_hash_footer

    result = add_hash_footer(image, partition_name=partition_name, salt=salt, partition_size=partition_size,
                             hash_algorithm=hash_algorithm, rollback_index=rollback_index, properties=props,
                             key=_avb_key(key), algorithm=algorithm, output=output)
    _echo_footer(result, as_json)


@avb.command("make-vbmeta")
@click.option("--output", "-o", "output", type=click.Path(path_type=Path), required=True, help="vbmeta image to write.")
@click.option("--key", "key", type=click.Path(path_type=Path), default=None,
              help="PEM RSA-2048/4096 private key (default: the bundled TEST key, never for shipping).")
@click.option("--algorithm", default=None, help="Default: SHA256 with the key's size.")
@click.option("--rollback-index", type=click.IntRange(0, 2**64 - 1), default=0, show_default=True)
@click.option("--rollback-index-location", type=click.IntRange(0, 2**32 - 1), default=0, show_default=True)
@click.option("--include-descriptors-from-image", "included", multiple=True, type=click.Path(path_type=Path),
              help="Take the descriptors of this image's footer or vbmeta (repeatable).")
@click.option("--chain-partition", "chains", multiple=True, callback=_avb_chains,
              metavar="PARTITION:LOCATION:KEY", help="Chain a partition to the key in KEY (repeatable).")
@click.option("--prop", "props", multiple=True, callback=_avb_props, metavar="KEY:VALUE",
              help="Property descriptor (repeatable).")
@click.option("--padding-size", type=click.IntRange(0, 1 << 20), default=4096, show_default=True)
@json_option
def avb_make_vbmeta(output: Path, key: Path | None, algorithm: str | None, rollback_index: int,
                    rollback_index_location: int, included: tuple[Path, ...], chains, props, padding_size: int,
                    as_json: bool) -> None:
    """Write a signed vbmeta image (vbmeta.img, vbmeta_system.img)."""
    from romforge.avb import bundled_test_key, make_vbmeta

    signing = _avb_key(key) or bundled_test_key()
    result = make_vbmeta(output, key=signing, algorithm=algorithm, rollback_index=rollback_index,
                         rollback_index_location=rollback_index_location, include_descriptors_from_image=included,
                         chain_partitions=chains, properties=props, padding_size=padding_size)
    if as_json:
        echo_json({**result.to_dict(), "path": shown(result.path), "key": shown(signing.path),
                    "test_key": signing.is_test_key})
        return
    click.echo(f"{shown(result.path)}: {result.algorithm}, rollback index {result.rollback_index}, "
               f"{len(result.descriptors)} descriptor(s), {result.size} bytes, sha256 {result.sha256[:16]}…")
    if signing.is_test_key:
        click.echo("  signed with the bundled TEST key: for development only, never ship it", err=True)


@avb.command("extract-public-key")
@click.argument("key", type=click.Path(path_type=Path))
@click.option("--output", "-o", "output", type=click.Path(path_type=Path), required=True,
              help="Where to write the AVB public key (.avbpubkey).")
def avb_extract_public_key(key: Path, output: Path) -> None:
    """Write KEY's public key in AVB's binary format (what chain descriptors and --key compare)."""
    from romforge.avb import extract_public_key

    extract_public_key(key, output)
    click.echo(f"AVB public key written: {shown(output)}")


@avb.command("info")
@click.argument("image", type=click.Path(path_type=Path))
@json_option
def avb_info(image: Path, as_json: bool) -> None:
    """Footer, vbmeta header and every descriptor of IMAGE, as avbtool info_image shows them."""
    from romforge.avb import format_info, image_info, read_avb_image

    parsed = read_avb_image(image)
    if as_json:
        echo_json({**image_info(parsed), "path": shown(image)})
        return
    click.echo(format_info(parsed))


@avb.command("verify")
@click.argument("vbmeta", type=click.Path(path_type=Path))
@click.option("--key", "-k", "public", type=click.Path(path_type=Path), required=True,
              help="The key VBMETA must be signed with: .avbpubkey, PEM/DER public key or certificate, PEM private key.")
@click.option("--images", type=click.Path(path_type=Path), default=None,
              help="Folder with the <partition>.img files (default: beside VBMETA).")
@avb_jobs_option
@json_option
def avb_verify(vbmeta: Path, public: Path, images: Path | None, jobs: int | None, as_json: bool) -> None:
    """Follow VBMETA's descriptors and chains, hash every image; exit 3 at the first mismatch."""
    from romforge.avb import load_public_key_blob, verify_vbmeta
    from romforge.errors import CheckFailed

    try:
        report = verify_vbmeta(vbmeta, public_key=load_public_key_blob(public), images_dir=images,
                               jobs=_avb_jobs(jobs))
    except CheckFailed as exc:
        if not as_json:
            raise
        echo_json({"vbmeta": shown(vbmeta), "ok": False, "findings": [f.__dict__ for f in exc.findings]})
        sys.exit(exc.exit_code)
    if as_json:
        echo_json({**report.to_dict(), "vbmeta": shown(vbmeta), "ok": True})
        return
    for line in report.checked:
        click.echo(line)
    click.echo(f"verified: {shown(vbmeta)} and {len(report.checked) - 1} descriptor(s) it leads to")
