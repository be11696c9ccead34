"""One rule for a path inside an Android partition, applied wherever such a path enters.

Partition paths end up in line-based text formats: META/filesystem_config.txt and fs_config
(`path uid gid mode capabilities=…`, fields split on whitespace) and file_contexts
(`regex context`). Neither can carry a path with whitespace, a line break or any other
control character, so such a path is refused where it is read (overlay.toml, a patch
header), with the file and line, instead of being escaped or mangled later. Linux's own
limits (NAME_MAX 255 bytes per name, PATH_MAX 4096 bytes) bound the length.
"""

from __future__ import annotations

from romforge.tree.paths import clean_path, path_char_problem

NAME_MAX = 255
PATH_MAX = 4095  # PATH_MAX counts the terminating NUL


def android_path(path: str, *, what: str = "path") -> str:
    """A relative, normalized path inside a partition, or ValueError saying what is wrong:
    empty, absolute, climbing out with '..', a NUL or backslash (tree.clean_path), whitespace
    or control characters, or longer than Linux allows."""
    clean = clean_path(path, what=what)
    problem = path_char_problem(clean)
    if problem:
        raise ValueError(f"{what} {path!r} {problem}")
    if len(clean.encode("utf-8")) > PATH_MAX:
        raise ValueError(f"{what} is {len(clean.encode('utf-8'))} bytes long, over Linux's limit of {PATH_MAX}")
    for part in clean.split("/"):
        if len(part.encode("utf-8")) > NAME_MAX:
            raise ValueError(f"{what} {path[:40]!r}…: a name is over Linux's limit of {NAME_MAX} bytes")
    return clean


def link_target_problem(target: str) -> str | None:
    """Why a symlink target (absolute or relative) cannot be written, or None."""
    if not target:
        return "symlink target is empty"
    if "\0" in target:
        return "symlink target holds a NUL"
    problem = path_char_problem(target)
    if problem:
        return f"symlink target {target!r} {problem}"
    if len(target.encode("utf-8")) > PATH_MAX:
        return f"symlink target is over Linux's limit of {PATH_MAX} bytes"
    return None
