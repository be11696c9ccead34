"""The build's identity in build.prop: version, date, device, fingerprint — never from the clock.

Every partition the profile builds gets its ro.product.* and ro.<partition>.build.* values;
the system partition also the build-wide ones. Features may not set these (plan refuses an
overlay that tries), and the build writes them after every feature ran.
"""

from __future__ import annotations

import datetime as dt
import os

from romforge.errors import ConfigError, Finding, InputError
from romforge.profile import DeviceProfile
from romforge.tree import RomTree, build_prop_path
from romforge.workspace import Workspace

Stamps = dict[str, dict[str, str]]  # partition → build.prop key → value


# 1980-01-01 (what a zip can date) to 2106-02-07 (what a u32 of seconds holds, as ro.build.date.utc
# and update_engine's max_timestamp checks on many devices do)
EARLIEST_UTC = 315532800
LATEST_UTC = (1 << 32) - 1


def _seconds(text: str) -> int | None:
    """An ASCII decimal number of seconds in range, else None (no '²³', no 5000-digit numbers)."""
    if not (text.isascii() and text.isdigit()) or len(text) > 10:
        return None
    value = int(text)
    return value if EARLIEST_UTC <= value <= LATEST_UTC else None


def _parse_date(text: str, *, origin: str) -> int:
    if len(text) > 40 or not text.isascii():
        raise ConfigError(f"{origin}: {text[:40]!r} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)")
    try:
        if len(text) == 10:
            when = dt.datetime.fromisoformat(text).replace(tzinfo=dt.timezone.utc)
        else:
            when = dt.datetime.fromisoformat(text.replace(" ", "T"))
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.timezone.utc)
    except ValueError:
        raise ConfigError(f"{origin}: {text!r} is not a date (YYYY-MM-DD or YYYY-MM-DDTHH:MM:SSZ)") from None
    utc = int(when.timestamp())
    if not EARLIEST_UTC <= utc <= LATEST_UTC:
        raise ConfigError(f"{origin}: {text!r} is outside 1980-01-01 … 2106-02-07, the dates a ROM can carry")
    return utc


def resolve_build_date(date: str | None, profile: DeviceProfile, base_system_utc: str | None) -> tuple[int, str]:
    """The build date comes from the inputs, never the clock: CLI, SOURCE_DATE_EPOCH, profile, base ROM."""
    if date:
        return _parse_date(date, origin="--date"), "cli"
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch:
        seconds = _seconds(epoch)
        if seconds is None:
            raise ConfigError(f"SOURCE_DATE_EPOCH={epoch[:24]!r} is not a number of seconds between "
                              f"{EARLIEST_UTC} (1980) and {LATEST_UTC} (2106)")
        return seconds, "SOURCE_DATE_EPOCH"
    if profile.build_date:
        return _parse_date(profile.build_date, origin=f"{profile.files[0].name}: build_date"), "profile"
    if base_system_utc and _seconds(base_system_utc) is not None:
        return int(base_system_utc), "base-rom"
    raise ConfigError("no build date: pass --date YYYY-MM-DD, set SOURCE_DATE_EPOCH or build_date in the profile")


def _date_text(utc: int) -> str:
    return dt.datetime.fromtimestamp(utc, dt.timezone.utc).strftime("%a %b %d %H:%M:%S UTC %Y")


def plan_stamps(ws: Workspace, profile: DeviceProfile, base: RomTree, version: str,
                build_utc: int) -> tuple[Stamps, str]:
    """The build.prop values that make this build identifiable: version, date, device, fingerprint."""
    system = base.build_prop("system")
    if system is None:
        raise InputError("the base ROM has no system build.prop", file=base.name)
    release = system.get("ro.build.version.release") or system.get("ro.system.build.version.release") or "0"
    build_id = system.get("ro.build.id") or system.get("ro.system.build.id") or "UNKNOWN"
    build_type = system.get("ro.build.type") or "user"
    tags = system.get("ro.build.tags") or "release-keys"
    fingerprint = (f"{profile.brand}/{profile.name}/{profile.codename}:{release}/{build_id}/{version}:"
                   f"{build_type}/{tags}")
    stamps: Stamps = {}
    for partition in base.partitions():
        if partition not in profile.partitions or base.build_prop(partition) is None:
            continue
        values = {
            f"ro.product.{partition}.brand": profile.brand,
            f"ro.product.{partition}.device": profile.codename,
            f"ro.product.{partition}.manufacturer": profile.manufacturer,
            f"ro.product.{partition}.model": profile.model,
            f"ro.product.{partition}.name": profile.name,
            f"ro.{partition}.build.date": _date_text(build_utc),
            f"ro.{partition}.build.date.utc": str(build_utc),
            f"ro.{partition}.build.fingerprint": fingerprint,
            f"ro.{partition}.build.version.incremental": version,
        }
        if partition == "system":
            values.update({
                "ro.build.version.incremental": version,
                "ro.build.display.id": f"{ws.rom_name} {version} ({profile.codename})",
                "ro.build.date": _date_text(build_utc),
                "ro.build.date.utc": str(build_utc),
                "ro.build.flavor": f"{profile.name}-{build_type}",
                "ro.romforge.version": version,
                "ro.romforge.device": profile.codename,
            })
            values.update(updater_stamps(ws, profile, values))
        if partition == "vendor":
            values["ro.sf.lcd_density"] = str(profile.screen.density)
        stamps[partition] = values
    return stamps, fingerprint


def updater_stamps(ws: Workspace, profile: DeviceProfile, stamped: dict[str, str]) -> dict[str, str]:
    """What the ROM's Updater app reads ([updater] in romforge.toml): the branch version and release
    type every entry is compared with, the codename, and the index URL template it fills in."""
    u = ws.updater
    values = {u.prop("branch_version"): u.branch_version, u.prop("release_type"): u.release_type,
              u.prop("device"): profile.codename, u.prop("uri"): u.uri}
    for key, value in values.items():
        if stamped.get(key, value) != value:
            raise ConfigError(f"[updater.properties] names {key}, which romforge already stamps as "
                              f"{stamped[key]!r}; pick the property the Updater really reads",
                              file=ws.config_file, line=u.line("properties"))
    return values


def apply_stamps(stamps: Stamps, tree: RomTree) -> None:
    """Write the identity into every stamped build.prop (after the features, so none overrides it)."""
    for partition, values in stamps.items():
        prop = tree.build_prop(partition)
        if prop is None:
            raise InputError(f"the {partition} partition lost its build.prop during the build; an overlay may not "
                             "remove it", file=tree.name)
        for key, value in values.items():
            prop.set(key, value)
        tree.write_build_prop(partition, prop)


def check_stamps(stamps: Stamps, tree: RomTree) -> list[Finding]:
    findings = []
    for partition, values in stamps.items():
        prop = tree.build_prop(partition)
        where = f"{partition}/{build_prop_path(partition)}"
        for key, value in values.items():
            if prop is None or prop.get(key) != value:
                findings.append(Finding(where, prop.line_of(key) if prop else None, "stamp-missing", "error",
                                        f"{key} should be {value!r} after stamping"))
    return findings
