"""The sample ROM's apps: real APKs linked by aapt2 and signed by apksigner, and the large
prebuilt app the OTA benchmark rebuilds week by week.

Building an APK takes a second or two, so a caller that makes many sample ROMs (the test
session, a benchmark) passes one `ApkCache`; nothing is kept between calls otherwise."""

from __future__ import annotations

import os
import random
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from romforge.rro import build_app_apk
from romforge.samplerom.plan import Plan, code_bytes

APPS = (  # partition, dir, package, label, extra strings
    ("system", "priv-app/Updater", "org.lineageos.updater", "Updater",
     {"check_for_update": "Check for updates", "installing_update": "Installing system update\u2026"}),
    ("system", "app/Jelly", "org.lineageos.jelly", "Browser",
     {"menu_new_tab": "New tab", "menu_share": "Share"}),
    ("system", "app/Recorder", "org.lineageos.recorder", "Recorder",
     {"sound_recording_title": "Sound recording", "save": "Save"}),
    ("system_ext", "priv-app/SystemUI", "com.android.systemui", "System UI",
     {"quick_settings_flashlight_label": "Flashlight", "battery_low_title": "Battery is low"}),
    ("system_ext", "priv-app/Settings", "com.android.settings", "Settings",
     {"about_settings": "About phone", "display_settings": "Display"}),
    ("product", "priv-app/Dialer", "com.android.dialer", "Phone",
     {"call_log_answered": "Answered", "dialer_search_hint": "Search contacts"}),
    ("product", "app/Contacts", "com.android.contacts", "Contacts",
     {"contacts_list_empty": "No contacts", "add_contact": "Add contact"}),
)

@dataclass
class ApkCache:
    """APK bytes by (package, strings): the same inputs always give the same signed APK."""

    built: dict[tuple, bytes] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def get(self, key: tuple) -> bytes | None:
        with self.lock:
            return self.built.get(key)

    def put(self, key: tuple, data: bytes) -> None:
        with self.lock:
            self.built[key] = data


def _apk(package: str, strings: dict[str, str], cache: ApkCache | None) -> bytes:
    key = (package, tuple(sorted(strings.items())))
    found = cache.get(key) if cache is not None else None
    if found is not None:
        return found
    with tempfile.TemporaryDirectory(prefix="romforge-sample-apk-") as tmp:
        out = Path(tmp) / "app.apk"
        build_app_apk(package, out, strings=strings)
        data = out.read_bytes()
    if cache is not None:
        cache.put(key, data)
    return data


def app_files(plan: Plan, cache: ApkCache | None = None) -> None:
    """Every app of APPS into the plan, built side by side."""
    jobs = []
    for partition, directory, package, label, extra in APPS:
        strings = {"app_name": label, **extra}
        jobs.append((partition, f"{directory}/{directory.rsplit('/', 1)[1]}.apk", package, strings))
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        built = list(pool.map(lambda job: _apk(job[2], job[3], cache), jobs))
    for (partition, path, _, _), data in zip(jobs, built):
        plan.add(partition, path, data)


LARGE_APP_PATH = "app/Gallery/Gallery.apk"
LARGE_APP_PACKAGE = "org.romforge.gallery"


def large_app_apk(seed: int, size_mb: int, *, version: int) -> bytes:
    """A prebuilt app of about `size_mb` MiB: a model kept uncompressed (as apps do, to mmap it) and
    JSON assets, linked by aapt2 and signed by apksigner. A later `version` is the same app rebuilt
    with parts of its assets changed."""
    from romforge.rro import align_and_sign, app_manifest, link_apk, strings_xml, SigningKey

    rng = random.Random(f"romforge-gallery-{seed}")
    model = bytearray(code_bytes(rng, size_mb * 700 * 1024))
    jsons = {f"data_{i:03d}.json": ("{" + ",".join(f'"k{j}": {rng.randrange(1 << 20)}' for j in range(400)) + "}")
             for i in range(max(4, size_mb * 8))}
    change = random.Random(f"romforge-gallery-{seed}-v{version}")
    for _ in range(version - 1):
        for _ in range(6):
            at = change.randrange(len(model) - 8192)
            model[at:at + 4096] = code_bytes(change, 4096)
        for name in change.sample(sorted(jsons), max(1, len(jsons) // 10)):
            jsons[name] = jsons[name].replace('"k1":', f'"k1": {change.randrange(1 << 20)}, "v":', 1)
    with tempfile.TemporaryDirectory(prefix="romforge-gallery-") as tmp:
        work = Path(tmp)
        (work / "assets").mkdir()
        (work / "assets" / "model.tflite").write_bytes(bytes(model))
        for name, text in jsons.items():
            (work / "assets" / name).write_text(text)
        manifest = work / "AndroidManifest.xml"
        manifest.write_text(app_manifest(LARGE_APP_PACKAGE, version, f"1.{version}", "Gallery"))
        (work / "res" / "values").mkdir(parents=True)
        (work / "res" / "values" / "strings.xml").write_text(strings_xml({"app_name": "Gallery",
                                                                          "version": f"1.{version}"}))
        unsigned = work / "unsigned.apk"
        link_apk(manifest, work / "res", unsigned, extra_args=("-A", str(work / "assets"), "-0", ".tflite"))
        out = work / "Gallery.apk"
        align_and_sign(unsigned, out, SigningKey.sample())
        return out.read_bytes()
