from __future__ import annotations

from pathlib import Path

import pytest

from romforge.errors import InputError
from romforge.selinux import FileContexts


@pytest.mark.realdata
def test_real_vendor_file_contexts_parse_and_label(shared: Path) -> None:
    path = shared / "sepolicy/xiaomi-sm8250-common-vendor-file_contexts"
    fc = FileContexts.parse(path.read_bytes(), source=path.name)
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    assert len(fc.specs) == len(lines)
    # every literal spec in the real file labels its own path with its own context
    for spec in fc.specs:
        if spec.literal:
            assert fc.lookup(spec.pattern.replace("\\", "")) == spec.context
    assert fc.lookup("/vendor/bin/init.mi.btmac.sh") == "u:object_r:vendor_qti_init_shell_exec:s0"
    assert fc.lookup("/vendor/bin/init_mi_btmac_sh") is None  # '\.' is a literal dot, not any char
    assert fc.lookup("/dev/lirc12") == "u:object_r:lirc_device:s0"
    assert fc.lookup("/dev/spidev3.1") == "u:object_r:lirc_device:s0"
    assert fc.lookup("/dev/spidev3x1") is None
    assert fc.lookup("/dev/lirc") is None
    assert fc.lookup("/data/vendor/goodix") == "u:object_r:fingerprint_vendor_data_file:s0"
    assert fc.lookup("/data/vendor/goodix/a/b") == "u:object_r:fingerprint_vendor_data_file:s0"
    assert fc.lookup("/data/vendor/goodixx") is None
    assert fc.lookup("/sys/devices/virtual/input/input3/wakeup7/x") == "u:object_r:sysfs_wakeup:s0"


def test_literal_beats_regex_and_last_regex_wins() -> None:
    fc = FileContexts.parse(
        "/system(/.*)?  u:object_r:system_file:s0\n"
        "/system/bin/sh  u:object_r:shell_exec:s0\n"
        "/system/bin(/.*)?  u:object_r:system_bin:s0\n"
        "/system/lib  -d  u:object_r:libdir:s0\n"
    )
    assert fc.lookup("/system/bin/sh") == "u:object_r:shell_exec:s0"
    assert fc.lookup("/system/bin/ls") == "u:object_r:system_bin:s0"
    assert fc.lookup("/system/etc/x") == "u:object_r:system_file:s0"
    assert fc.lookup("/system/lib", "dir") == "u:object_r:libdir:s0"
    assert fc.lookup("/system/lib", "file") == "u:object_r:system_file:s0"
    assert fc.lookup("/vendor/x") is None


@pytest.mark.parametrize("text,line", [
    ("/a u:object_r:a:s0\n/b\n", 2),
    ("/a u:object_r:a:s0\n/b([ u:object_r:b:s0\n", 2),
    ("\n# c\n/a notacontext\n", 3),
])
def test_bad_lines_are_reported_with_line(text: str, line: int) -> None:
    with pytest.raises(InputError) as err:
        FileContexts.parse(text, source="file_contexts")
    assert err.value.line == line
