"""build.prop of every sample partition, shaped like AOSP's generated ones."""

from __future__ import annotations

from romforge.samplerom.plan import ANDROID_RELEASE, ANDROID_SDK, BASE_DATE_UTC, BASE_INCREMENTAL, BUILD_ID, SampleSpec


def build_date_text(utc: int) -> str:
    import datetime as dt

    return dt.datetime.fromtimestamp(utc, dt.timezone.utc).strftime("%a %b %d %H:%M:%S UTC %Y")


def fingerprint(spec: SampleSpec) -> str:
    return (f"{spec.brand}/{spec.device}/{spec.device}:{ANDROID_RELEASE}/{BUILD_ID}/{BASE_INCREMENTAL}:"
            f"user/release-keys")


def build_prop(spec: SampleSpec, partition: str) -> bytes:
    lines = [
        "",
        "####################################",
        "# from generate-common-build-props",
        "# These properties identify this partition image.",
        "####################################",
        f"ro.product.{partition}.brand={spec.brand}",
        f"ro.product.{partition}.device={spec.device}",
        f"ro.product.{partition}.manufacturer={spec.manufacturer}",
        f"ro.product.{partition}.model={spec.model}",
        f"ro.product.{partition}.name={spec.device}",
        f"ro.{partition}.build.date={build_date_text(BASE_DATE_UTC)}",
        f"ro.{partition}.build.date.utc={BASE_DATE_UTC}",
        f"ro.{partition}.build.fingerprint={fingerprint(spec)}",
        f"ro.{partition}.build.id={BUILD_ID}",
        f"ro.{partition}.build.tags=release-keys",
        f"ro.{partition}.build.type=user",
        f"ro.{partition}.build.version.incremental={BASE_INCREMENTAL}",
        f"ro.{partition}.build.version.release={ANDROID_RELEASE}",
        f"ro.{partition}.build.version.sdk={ANDROID_SDK}",
    ]
    if partition == "system":
        abis64 = [a for a in spec.abis if a in ("arm64-v8a", "x86_64", "riscv64")]
        abis32 = [a for a in spec.abis if a not in abis64]
        lines += [
            "####################################",
            "# from gen_build_prop.py:generate_build_info",
            "####################################",
            "# begin build properties",
            f"ro.build.id={BUILD_ID}",
            f"ro.build.display.id={BUILD_ID} release-keys",
            f"ro.build.version.incremental={BASE_INCREMENTAL}",
            f"ro.build.version.sdk={ANDROID_SDK}",
            f"ro.build.version.release={ANDROID_RELEASE}",
            "ro.build.version.security_patch=2025-11-01",
            f"ro.build.date={build_date_text(BASE_DATE_UTC)}",
            f"ro.build.date.utc={BASE_DATE_UTC}",
            "ro.build.type=user",
            "ro.build.user=romforge",
            "ro.build.host=localhost",
            "ro.build.tags=release-keys",
            f"ro.build.flavor={spec.device}-user",
            f"ro.product.cpu.abilist={','.join(spec.abis)}",
            f"ro.product.cpu.abilist32={','.join(abis32)}",
            f"ro.product.cpu.abilist64={','.join(abis64)}",
            "# end build properties",
            "",
            "# ADDITIONAL_SYSTEM_PROPERTIES",
            "ro.treble.enabled=true",
            "persist.sys.dalvik.vm.lib.2=libart.so",
            "dalvik.vm.isa.arm64.variant=generic" if abis64 else "dalvik.vm.isa.arm.variant=cortex-a53",
            "ro.carrier?=unknown",
            "net.bt.name=Android",
        ]
    elif partition == "vendor":
        lines += [
            "ro.vendor.build.security_patch=2025-11-01",
            f"ro.product.board={spec.device}",
            "ro.board.platform=msmnile",
            "ro.hardware.egl=adreno",
            f"ro.sf.lcd_density={spec.density}",
            "ro.vendor.qti.va_aosp.support=1",
            "persist.vendor.radio.enableadvancedscan=true",
            "ro.boot.dynamic_partitions=true",
            f"ro.build.ab_update={'true' if spec.ab else 'false'}",
        ]
    elif partition == "product":
        lines += [
            "ro.product.locale=en-US",
            "ro.config.ringtone=Ring_Synth_04.ogg",
            "ro.config.notification_sound=OnTheHunt.ogg",
            "ro.com.android.dataroaming=false",
            "ro.setupwizard.mode=OPTIONAL",
        ]
    elif partition == "odm":
        lines += ["ro.vendor.qti.sys.fw.bg_apps_limit=32", "persist.vendor.camera.privapp.list=com.android.camera"]
    return ("\n".join(lines).lstrip("\n") + "\n").encode()
