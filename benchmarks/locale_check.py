#!/usr/bin/env python3
"""The translator's check on 10,000 strings (target < 1 s), next to baselines measured in the same run.

Baselines: parsing the same two files with plain lxml (no checks: the floor any checker
pays), and `aapt2 compile` of the same-size source file (what a build runs on every
strings.xml anyway; the translation itself has errors aapt2 would stop at).
The strings mix format arguments, xliff:g placeholders, escapes, plurals and arrays, and
the translation has a realistic sprinkle of problems so every rule runs. The same
translation is then checked once more with two broken inline tags (not well-formed), so
the recovering parse runs too; both must stay under 1 s.

    .venv/bin/python benchmarks/locale_check.py [--strings 10000] [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from lxml import etree

from romforge.locales.check import check_file

HEAD = '<?xml version="1.0" encoding="utf-8"?>\n<resources xmlns:xliff="urn:oasis:names:tc:xliff:document:1.2">\n'


def make_files(root: Path, count: int) -> tuple[Path, Path]:
    source, translation = [HEAD], [HEAD]
    for i in range(count):
        kind = i % 10
        if kind == 0:
            source.append(f'  <string name="s{i}">Downloaded <xliff:g id="size">%1$s</xliff:g> of %2$d files'
                          f'</string>\n')
            translation.append(f'  <string name="s{i}">已下载 <xliff:g id="size">%1$s</xliff:g>，共 %2$d 个文件'
                               f'</string>\n')
        elif kind == 1:
            source.append(f'  <plurals name="s{i}"><item quantity="one">1 minute</item>'
                          f'<item quantity="other">%d minutes</item></plurals>\n')
            translation.append(f'  <plurals name="s{i}"><item quantity="other">%d 分钟</item></plurals>\n')
        elif kind == 2:
            source.append(f'  <string-array name="s{i}"><item>Daily</item><item>Weekly</item></string-array>\n')
            translation.append(f'  <string-array name="s{i}"><item>每天</item><item>每周</item></string-array>\n')
        elif kind == 3:
            source.append(f'  <string name="s{i}">Can\\\'t install <b>now</b>.\\nTry again\\u2026</string>\n')
            bad = "'" if i % 100 == 3 else ""
            translation.append(f'  <string name="s{i}">现在无法{bad}安装<b>更新</b>。\\n请重试\\u2026</string>\n')
        elif kind == 4 and i % 40 == 4:
            source.append(f'  <string name="s{i}">Battery at %1$d%%</string>\n')
            translation.append(f'  <string name="s{i}">电量 %1$s%%</string>\n')  # format-type error
        else:
            source.append(f'  <string name="s{i}">Setting number {i}</string>\n')
            translation.append(f'  <string name="s{i}">设置项 {i}</string>\n')
    source.append("</resources>\n")
    translation.append("</resources>\n")
    (root / "values").mkdir()
    (root / "values-zh-rCN").mkdir()
    src, dst = root / "values" / "strings.xml", root / "values-zh-rCN" / "strings.xml"
    src.write_text("".join(source), encoding="utf-8")
    dst.write_text("".join(translation), encoding="utf-8")
    return src, dst


def median_time(fn, runs: int) -> tuple[float, object]:
    times, result = [], None
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strings", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="romforge-bench-locale-") as tmp:
        src, dst = make_files(Path(tmp), args.strings)
        check_s, findings = median_time(lambda: check_file(dst, src), args.runs)
        broken = Path(tmp) / "broken" / "values-zh-rCN" / "strings.xml"
        broken.parent.mkdir(parents=True)
        text = dst.read_text(encoding="utf-8")
        middle, late = args.strings // 2 + 5, args.strings * 9 // 10 + 5  # plain strings (kind 5)
        for i in (middle, late):
            text = text.replace(f'<string name="s{i}">设置项 {i}</string>', f'<string name="s{i}">设置项 <b>{i}</string>')
        broken.write_text(text, encoding="utf-8")
        broken_s, broken_findings = median_time(lambda: check_file(broken, src), args.runs)
        invalid = sum(1 for f in broken_findings if f.rule == "invalid-xml")
        parse_s, _ = median_time(lambda: (etree.parse(str(src)), etree.parse(str(dst))), args.runs)
        line = (f"locale check, {args.strings:,} strings: {check_s * 1000:.0f} ms "
                f"({len(findings)} findings; target < 1000 ms)\n"
                f"locale check, same translation with 2 broken tags (recovering parse): {broken_s * 1000:.0f} ms "
                f"({invalid} invalid-xml + {len(broken_findings) - invalid} other findings; target < 1000 ms)\n"
                f"  baseline lxml parse of both files: {parse_s * 1000:.0f} ms  → check/parse ratio "
                f"{check_s / parse_s:.1f}×, recovering check/parse {broken_s / parse_s:.1f}×")
        aapt2 = shutil.which("aapt2")
        if aapt2:
            out = Path(tmp) / "compiled"
            out.mkdir()
            compile_s, _ = median_time(lambda: subprocess.run([aapt2, "compile", str(src), "-o", str(out)],
                                                              check=True, capture_output=True), args.runs)
            line += (f"\n  baseline aapt2 compile of the source file: {compile_s * 1000:.0f} ms  → check/aapt2 "
                     f"ratio {check_s / compile_s:.2f}×")
        print(line)
        return 0 if check_s < 1.0 and broken_s < 1.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
