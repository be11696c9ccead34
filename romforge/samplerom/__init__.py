"""A small but structurally real base ROM (AOSP target-files) for the demo, tests and benchmarks.

Real APKs (aapt2 + apksigner), real ELF objects for the device's ABIs with a consistent
DT_NEEDED graph per partition, build.prop per partition, permission/sysconfig XML, a
real CJK font and a STORED bootanimation.zip. Everything derives from the seed.

plan.py is the spec and the plan of entries, core.py / apps.py / buildprops.py the files,
meta.py the META files, writer.py writes it, week.py makes the same ROM a week later.
"""

from romforge.samplerom.apps import LARGE_APP_PACKAGE, LARGE_APP_PATH, ApkCache, large_app_apk
from romforge.samplerom.plan import BASE_DATE_UTC, BASE_INCREMENTAL, FONT, SampleSpec
from romforge.samplerom.week import mutate_week
from romforge.samplerom.writer import generate

__all__ = ["ApkCache", "BASE_DATE_UTC", "BASE_INCREMENTAL", "FONT", "LARGE_APP_PACKAGE", "LARGE_APP_PATH",
           "SampleSpec", "generate", "large_app_apk", "mutate_week"]
