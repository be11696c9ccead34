"""Applying resolved overlays to a staged tree: files, props, XML edits, RRO APKs, patches.

Planning an overlay only reads and checks it (overlays/feature.py); applying it here is
where tools run (aapt2 and apksigner for the RROs, GNU patch) and where a patch that does
not apply or an XPath that matches nothing is found: all such problems of one build are
collected and reported together, with file:line, and the build stops before anything is
released. File bytes come from each overlay's snapshot, never from the folder again.
`dry_run` does the same on a throw-away stage for `romforge overlay check`.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
import hashlib
import re
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from lxml import etree

from romforge.errors import InputError, InputProblems, RomforgeError, ToolFailedError, ToolMissingError
from romforge.overlays.patch import failed_hunks, run_patch
from romforge.overlays.resolve import Resolved
from romforge.overlays.snapshot import Snapshot
from romforge.overlays.spec import (XPATH_NAMESPACES, FileOp, OverlaySpec, PatchOp, PropOp, ResourceOverlay,
                                    XmlOp, parse_fragment)
from romforge.rro import SigningKey, build_rro, values_xml
from romforge.run.context import BuildContext
from romforge.run.tools import Tools
from romforge.tree import DIR, FILE, FILE_CONTEXTS, SYMLINK, FileMeta, RomTree, default_meta, stage
from romforge.xmlsafe import parse_xml, serialize_xml

@dataclass
class _Run:
    """Bookkeeping of one application pass."""

    tree: RomTree
    apks: dict[str, bytes]
    tools: Tools = field(default_factory=Tools)
    problems: list[RomforgeError] = field(default_factory=list)
    origins: dict[tuple[str, str], str] = field(default_factory=dict)
    removed: dict[tuple[str, str], str] = field(default_factory=dict)
    actions: dict[str, list[str]] = field(default_factory=dict)
    contexts: list[str] = field(default_factory=list)


# ---- signing and RROs ----------------------------------------------------------------


def _rro_digest(spec: OverlaySpec, res: ResourceOverlay, values: bytes, key: SigningKey) -> str:
    h = hashlib.sha256()
    for part in (spec.sha256, res.target, res.package, str(res.priority), res.target_name or "", spec.version):
        h.update(part.encode() + b"\0")
    h.update(values)
    h.update(key.pk8.read_bytes() + key.cert.read_bytes())
    return "overlay-rro-" + h.hexdigest()


def build_rros(resolved: Resolved, ctx: BuildContext) -> tuple[dict[str, bytes], list[RomforgeError]]:
    """Every [[resources]] entry as a signed static RRO (the run's RRO key), made once per run and
    side by side on the cores the run leaves; tool failures come back as problems."""
    key = ctx.keys.overlay
    wanted: list[tuple[OverlaySpec, ResourceOverlay, str, Callable[[], bytes]]] = []
    for spec in resolved.order:
        for res in spec.resources:
            values = values_xml([(v.kind, v.name, v.value) for v in res.values]) if res.values else b""
            make = functools.partial(_link_rro, spec, res, values, key, ctx.tools)
            wanted.append((spec, res, _rro_digest(spec, res, values, key), make))
    apks: dict[str, bytes] = {}
    problems: list[RomforgeError] = []

    def one(item: tuple[OverlaySpec, ResourceOverlay, str, Callable[[], bytes]]) -> bytes | RomforgeError:
        spec, res, digest, make = item
        try:
            return ctx.cache.make(digest, make)
        except ToolMissingError:
            raise  # the machine's problem, not the overlay's
        except RomforgeError as exc:  # reported with the others; a failed make stores nothing
            return exc

    with ctx.cores.borrow(len(wanted)) as cores:
        if cores > 1 and len(wanted) > 1:
            with ThreadPoolExecutor(max_workers=min(cores, len(wanted))) as pool:
                results = list(pool.map(one, wanted))
        else:
            results = [one(item) for item in wanted]
    for (spec, res, _, _), value in zip(wanted, results):
        if isinstance(value, RomforgeError):
            problems.append(spec.error(f"RRO for {res.target} does not build: {value.message}", res.line,
                                       hint="fix the resource values or res/ files named above"))
        else:
            apks[res.package] = value
    return apks, problems


def _link_rro(spec: OverlaySpec, res: ResourceOverlay, values: bytes, key: SigningKey, tools: Tools) -> bytes:
    with tempfile.TemporaryDirectory(prefix="romforge-overlay-rro-") as tmp:
        work = Path(tmp)
        res_dir = work / "res"
        if res.res_dir is not None:
            _write_res(_snapshot(spec).under(res.res_dir), res_dir)
        if values:
            generated = res_dir / "values" / f"romforge-{spec.name}.xml"
            generated.parent.mkdir(parents=True, exist_ok=True)
            if generated.exists():
                raise ToolFailedError(f"res/values/{generated.name} is a reserved file name")
            generated.write_bytes(values)
        out = work / "overlay.apk"
        build_rro(res_dir, out, package=res.package, target_package=res.target, priority=res.priority,
                  is_static=True, target_name=res.target_name, version_name=spec.version, key=key, tools=tools)
        return out.read_bytes()


def _snapshot(spec: OverlaySpec) -> Snapshot:
    if spec.snapshot is None:
        raise InputError("the overlay folder could not be read", file=spec.file)
    return spec.snapshot


def _write_res(files: dict[str, bytes], dest: Path) -> None:
    """An Android res/ folder from the snapshot's bytes (no symlinks: the spec refused those)."""
    for rel, data in sorted(files.items()):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


# ---- operations ----------------------------------------------------------------------


def _fail(run: _Run, spec: OverlaySpec, line: int | None, message: str, hint: str | None = None) -> None:
    run.problems.append(spec.error(message, line, hint))


def _has_partition(run: _Run, spec: OverlaySpec, partition: str, line: int | None) -> bool:
    if run.tree.get(partition, "") is None:
        _fail(run, spec, line, f"the base ROM has no {partition} partition")
        return False
    return True


def _meta(tree: RomTree, op: FileOp, kind: str, old: FileMeta | None) -> FileMeta:
    base = old or replace(default_meta(op.partition, op.path, kind), selabel=tree.label_for(op.partition, op.path, kind))
    return FileMeta(uid=base.uid if op.uid is None else op.uid, gid=base.gid if op.gid is None else op.gid,
                    mode=base.mode if op.mode is None else op.mode,
                    selabel=base.selabel if op.label is None else op.label,
                    capabilities=base.capabilities if op.capabilities is None else op.capabilities)


def _describe_meta(meta: FileMeta) -> str:
    text = f"{meta.mode:04o} {meta.uid}:{meta.gid}"
    if meta.selabel:
        text += f" {meta.selabel}"
    if meta.capabilities:
        text += f" caps=0x{meta.capabilities:x}"
    return text


def _file_op(run: _Run, spec: OverlaySpec, op: FileOp) -> None:
    tree = run.tree
    where = f"/{op.partition}/{op.path}"
    old = tree.get(op.partition, op.path)
    if op.action == "remove":
        if old is None:
            _fail(run, spec, op.line, f"cannot remove {where}: it is not in the tree",
                  hint="the base ROM or an earlier overlay no longer has it; drop this entry")
            return
        for gone in tree.remove(op.partition, op.path):
            run.removed[(gone.partition, gone.path)] = spec.name
            run.origins.pop((gone.partition, gone.path), None)
        run.actions[spec.name].append(f"remove {where}")
        return
    if op.action == "add" and old is not None:
        _fail(run, spec, op.line, f"cannot add {where}: it already exists", hint='use action = "replace"')
        return
    if op.action == "replace" and (old is None or old.kind == DIR):
        _fail(run, spec, op.line, f"cannot replace {where}: " + ("it is a directory" if old else "it is not in the tree"),
              hint='use action = "add" for new files')
        return
    if op.action == "symlink":
        if old is not None and old.kind == DIR:
            _fail(run, spec, op.line, f"cannot make {where} a symlink: it is a directory")
            return
        meta = _meta(tree, op, SYMLINK, None)
        tree.write_symlink(op.partition, op.path, op.link_target or "", meta)
        run.actions[spec.name].append(f"symlink {where} -> {op.link_target}")
    else:
        meta = _meta(tree, op, FILE, old.meta if old is not None and old.kind == FILE else None)
        if op.source is None and op.content is None:
            tree.set_meta(op.partition, op.path, meta)
            run.actions[spec.name].append(f"meta {where} {_describe_meta(meta)}")
        else:
            data = op.content if op.content is not None else _snapshot(spec).read(op.source)
            tree.write_file(op.partition, op.path, data, meta)
            run.actions[spec.name].append(f"{op.action} {where} {_describe_meta(meta)}")
    run.origins[(op.partition, op.path)] = spec.name
    if op.label is not None:
        pattern = re.escape(where).replace("\\/", "/")
        run.contexts.append(f"{pattern}    {op.label}")


def _prop_ops(run: _Run, spec: OverlaySpec, ops: tuple[PropOp, ...]) -> None:
    by_partition: dict[str, list[PropOp]] = {}
    for op in ops:
        by_partition.setdefault(op.partition, []).append(op)
    order = {"unset": 0, "set": 1, "append": 2}
    for partition, items in by_partition.items():
        if not _has_partition(run, spec, partition, items[0].line):
            continue
        prop = run.tree.build_prop(partition)
        if prop is None:
            _fail(run, spec, items[0].line, f"the {partition} partition has no build.prop to change")
            continue
        for op in sorted(items, key=lambda o: order[o.action]):
            if op.action == "unset":
                gone = prop.unset(op.key)
                run.actions[spec.name].append(f"prop {partition}: unset {op.key}" + ("" if gone else " (was not set)"))
            elif op.action == "set":
                prop.set(op.key, op.value or "")
                run.actions[spec.name].append(f"prop {partition}: {op.key}={op.value}")
            else:
                prop.append(op.key, op.value or "", op.separator)
                run.actions[spec.name].append(f"prop {partition}: {op.key} += {op.value}")
        run.tree.write_build_prop(partition, prop)
        run.origins[(partition, "build.prop")] = spec.name


def _indent_append(parent: etree._Element, element: etree._Element) -> None:
    """Append keeping the file's indentation: the new child takes its siblings' indent."""
    if len(parent):
        last = parent[-1]
        closing = last.tail
        last.tail = parent.text if parent.text and not parent.text.strip() else closing
        element.tail = closing
    else:
        outer = (parent.tail or "\n") if parent.getparent() is not None else "\n"
        parent.text = outer + "    "
        element.tail = outer
    parent.append(element)


def _detach(element: etree._Element) -> None:
    parent = element.getparent()
    previous = element.getprevious()
    if element.getnext() is None:  # the closing tag keeps its indentation
        if previous is not None:
            previous.tail = element.tail
        else:
            parent.text = element.tail
    parent.remove(element)


def _attr_name(name: str) -> str:
    prefix, sep, local = name.partition(":")
    if sep and prefix in XPATH_NAMESPACES:
        return f"{{{XPATH_NAMESPACES[prefix]}}}{local}"
    return name


def _xml_ops(run: _Run, spec: OverlaySpec, ops: tuple[XmlOp, ...]) -> None:
    docs: dict[tuple[str, str], etree._ElementTree] = {}
    for op in ops:
        where = f"/{op.partition}/{op.path}"
        key = (op.partition, op.path)
        if key not in docs:
            if not _has_partition(run, spec, op.partition, op.line):
                continue
            entry = run.tree.get(*key)
            if entry is None and op.create:
                docs[key] = etree.ElementTree(etree.Element(op.create))
            elif entry is None or entry.kind != FILE:
                _fail(run, spec, op.line, f"{where} is not a file in the tree",
                      hint="add 'create = \"permissions\"' (the root element) to make a new XML file")
                continue
            else:
                try:
                    docs[key] = parse_xml(run.tree.read(*key), source=where)
                except InputError as exc:
                    _fail(run, spec, op.line, f"cannot edit {exc.format()}")
                    continue
        doc = docs[key]
        try:
            found = doc.xpath(op.xpath, namespaces=XPATH_NAMESPACES)
        except etree.XPathError as exc:
            _fail(run, spec, op.line, f"XPath {op.xpath!r} fails on {where}: {exc}")
            continue
        elements = [e for e in found if isinstance(e, etree._Element)] if isinstance(found, list) else []
        if not isinstance(found, list) or len(elements) != len(found):
            _fail(run, spec, op.line, f"XPath {op.xpath!r} must select elements, not text or attributes")
            continue
        if op.action == "add":
            if len(elements) != 1:
                _fail(run, spec, op.line, f"'under' = {op.xpath!r} matches {len(elements)} elements in {where}; "
                                          "it must match exactly one")
                continue
            for new in parse_fragment(op.fragment or "", source=f"{spec.file}:{op.line}"):
                _indent_append(elements[0], new)
            run.actions[spec.name].append(f"xml {where}: add under {op.xpath}")
        elif not elements:
            _fail(run, spec, op.line, f"XPath {op.xpath!r} matches nothing in {where}",
                  hint="the base ROM's file changed, or the XPath is wrong")
            continue
        elif op.action == "remove":
            for element in elements:
                _detach(element)
            run.actions[spec.name].append(f"xml {where}: remove {len(elements)} × {op.xpath}")
        else:
            for element in elements:
                for name, value in op.attributes:
                    element.set(_attr_name(name), value)
            run.actions[spec.name].append(f"xml {where}: set {', '.join(n for n, _ in op.attributes)} on "
                                          f"{len(elements)} × {op.xpath}")
    for (partition, path), doc in docs.items():
        run.tree.write_file(partition, path, serialize_xml(doc) + b"\n")
        run.origins[(partition, path)] = spec.name


def _resources(run: _Run, spec: OverlaySpec, res: ResourceOverlay) -> None:
    if res.package not in run.apks or not _has_partition(run, spec, res.partition, res.line):
        return  # the build failure was already reported
    run.tree.write_file(res.partition, res.apk_path, run.apks[res.package])
    run.origins[(res.partition, res.apk_path)] = spec.name
    run.actions[spec.name].append(f"rro {res.target} -> /{res.partition}/{res.apk_path} (priority {res.priority})")


def _patch(run: _Run, spec: OverlaySpec, op: PatchOp) -> None:
    with tempfile.TemporaryDirectory(prefix="romforge-patch-") as tmp:
        for target in op.targets:
            where = f"/{target.partition}/{target.path}"
            entry = run.tree.get(target.partition, target.path)
            if entry is None or entry.kind != FILE:
                _fail(run, spec, op.line, f"{op.shown} patches {where}, which is not a file in the tree")
                continue
            patched, output = run_patch(run.tree.read(target.partition, target.path), target.text, Path(tmp),
                                        tools=run.tools)
            if patched is None:
                failed = failed_hunks(output)
                for hunk in failed:
                    line = target.hunk_lines[hunk - 1] if hunk <= len(target.hunk_lines) else target.hunk_lines[0]
                    detail = output.splitlines()[-1] if output else "patch failed"
                    run.problems.append(InputError(
                        f"hunk #{hunk} does not apply to {where} ({detail})", file=op.shown, line=line,
                        hint=f"regenerate the diff against the base ROM's {where} (used by {spec.file}:{op.line})"))
                continue
            run.tree.write_file(target.partition, target.path, patched)
            run.origins[(target.partition, target.path)] = spec.name
            run.actions[spec.name].append(f"patch {where} ({len(target.hunk_lines)} hunk(s))")


def _write_contexts(run: _Run) -> None:
    current = run.tree.read_extra(FILE_CONTEXTS)
    if current is None or not run.contexts:
        return
    text = current.decode("utf-8")
    if not text.endswith("\n"):
        text += "\n"
    for line in run.contexts:  # `regex label`: one space-free field each, the edges made sure of it
        if len(line.split()) != 2:
            raise InputError(f"cannot write the file_contexts line {line!r}: it must be two whitespace-free fields")
    text += "# labels set by romforge overlays\n" + "".join(line + "\n" for line in run.contexts)
    run.tree.write_extra(FILE_CONTEXTS, text.encode("utf-8"))


def apply_all(resolved: Resolved, tree: RomTree, apks: dict[str, bytes], tools: Tools) -> "_Run":
    """Every overlay of `resolved`, in order, on `tree`; the problems are collected in the result."""
    run = _Run(tree, apks, tools)
    steps: list[tuple[str, Callable[[OverlaySpec], None]]] = [
        ("files", lambda s: [_file_op(run, s, op) for op in s.files]),
        ("props", lambda s: _prop_ops(run, s, s.props)),
        ("xml", lambda s: _xml_ops(run, s, s.xml)),
        ("resources", lambda s: [_resources(run, s, r) for r in s.resources]),
        ("patches", lambda s: [_patch(run, s, p) for p in s.patches]),
    ]
    for spec in resolved.order:
        run.actions[spec.name] = []
        for _, step in steps:
            try:
                step(spec)
            except ToolMissingError:
                raise
            except RomforgeError as exc:
                run.problems.append(exc)
            except (KeyError, ValueError, NotADirectoryError, IsADirectoryError) as exc:
                run.problems.append(spec.error(f"cannot apply: {exc}"))
    _write_contexts(run)
    return run


def apply_overlays(resolved: Resolved, ctx: BuildContext, tree: RomTree,
                   earlier: list[RomforgeError] | None = None) -> "_Run":
    """Build the RROs and apply every overlay to the build's staged tree; raises InputProblems with
    every problem (the `earlier` ones from reading and resolving included) when any is found."""
    apks, problems = build_rros(resolved, ctx)
    run = apply_all(resolved, tree, apks, ctx.tools)
    problems = list(earlier or []) + problems + run.problems
    if problems:
        raise InputProblems(f"{len(problems)} problem(s) with the overlays of {resolved.device}; "
                            "nothing was built", problems)
    return run


def dry_run(resolved: Resolved, base: RomTree, ctx: BuildContext) -> None:
    """Apply `resolved` to a throw-away stage of `base` (`romforge overlay check`)."""
    with tempfile.TemporaryDirectory(prefix="romforge-overlay-check-") as tmp:
        apply_overlays(resolved, ctx, stage(base, Path(tmp) / "dry-run"))
