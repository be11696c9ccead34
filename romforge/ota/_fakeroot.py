"""Runs inside `fakeroot`: give a private staging copy its Android owners, modes and xattrs, then
run the image tool, which sees them through fakeroot's faked stat/listxattr.

Only images.py starts this (python -m romforge.ota._fakeroot JOB.json). The staging copy is
private to the image build, so even fakeroot's real chmod never reaches the base ROM.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def main(job_file: str) -> int:
    with open(job_file, encoding="utf-8") as f:
        job = json.load(f)
    root = job["root"]
    for rel, uid, gid, mode, xattrs in job["entries"]:
        path = os.path.join(root, rel) if rel else root
        os.lchown(path, uid, gid)
        if mode is not None:
            os.chmod(path, mode)
        for name, hex_value in xattrs:
            os.setxattr(path, name, bytes.fromhex(hex_value), follow_symlinks=False)
    for command in job["commands"]:
        proc = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **job.get("env", {})})
        if proc.returncode != 0:
            sys.stderr.write(f"{os.path.basename(command[0])} exited {proc.returncode}\n{proc.stderr}{proc.stdout}")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
