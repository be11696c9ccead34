"""The external programs and data files romforge runs or reads, found in one place.

Every tool is a Debian package's; a missing one is a ToolMissingError that names the
package to install. `Tools` is what a BuildContext carries; paths may be overridden (tests,
a ROM team's own framework-res.apk, also ROMFORGE_FRAMEWORK_RES) for one run only.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from romforge.errors import ToolMissingError

# program → Debian package that provides it
PACKAGES = {
    "aapt2": "aapt", "zipalign": "zipalign", "apksigner": "apksigner", "patch": "patch",
    "mkfs.erofs": "erofs-utils", "fsck.erofs": "erofs-utils", "dump.erofs": "erofs-utils",
    "mke2fs": "e2fsprogs", "e2fsck": "e2fsprogs", "debugfs": "e2fsprogs", "fakeroot": "fakeroot",
    "java": "default-jre-headless", "chromium": "chromium", "mkbootimg": "mkbootimg",
    "simg2img": "android-sdk-libsparse-utils", "img2simg": "android-sdk-libsparse-utils",
}
FRAMEWORK_RES = Path("/usr/share/android-framework-res/framework-res.apk")
SIGNAPK_JAR = Path("/usr/share/signapk/signapk.jar")
_SBIN = ("/usr/sbin", "/sbin")  # e2fsprogs lives there, often off a user's PATH


@dataclass(frozen=True)
class Tools:
    """Where each program and data file is; `overrides` wins over PATH."""

    overrides: dict[str, str] = field(default_factory=dict)

    def path(self, name: str) -> str:
        """The program `name`, or ToolMissingError naming its Debian package."""
        if name in self.overrides:
            return self.overrides[name]
        search = os.pathsep.join([os.environ.get("PATH", ""), *_SBIN])
        found = shutil.which(name, path=search)
        if found is None:
            raise ToolMissingError(name, PACKAGES.get(name, name))
        return found

    def framework_res(self) -> Path:
        """The framework-res.apk every aapt2 link is made against."""
        path = Path(self.overrides.get("framework-res") or os.environ.get("ROMFORGE_FRAMEWORK_RES") or FRAMEWORK_RES)
        if not path.is_file():
            raise ToolMissingError(str(path), "android-framework-res")
        return path

    def signapk_jar(self) -> Path:
        path = Path(self.overrides.get("signapk.jar", SIGNAPK_JAR))
        if not path.is_file():
            raise ToolMissingError(str(path), "signapk")
        return path
