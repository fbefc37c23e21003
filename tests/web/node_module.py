"""The page's ES modules run in Node for unit tests: one way to start them, so each test module
holds only its script and its assertions (the page has no build step: the tests import the very
files the browser loads, from ``web/``)."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

import web

NODE = shutil.which("node")
#: Mark a test module (``pytestmark = needs_node``) that runs the page's modules.
needs_node = pytest.mark.skipif(NODE is None, reason="needs node to run the page's modules")


#: A script's lines that read a pack handed over as ``{"files": pack_files(root), ...}`` on
#: stdin: ``input`` (the whole payload) and ``files`` (a Map of path -> Uint8Array, what the
#: page's pack.js takes). Placed after the script's own imports.
READ_PACK_FILES = """
import { readFileSync } from "node:fs";
const input = JSON.parse(readFileSync(0, "utf8"));
const bytes = (b64) => new Uint8Array(Buffer.from(b64, "base64"));
const files = new Map(input.files.map(([p, b64]) => [p, bytes(b64)]));
"""


def pack_files(root: Path) -> list[tuple[str, str]]:
    """Every file under a pack folder as (relative POSIX path, base64), in a fixed order: the
    JSON form of a pack that :data:`READ_PACK_FILES` turns back into the page's Map."""
    return [
        (p.relative_to(root).as_posix(), base64.b64encode(p.read_bytes()).decode())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    ]


def run_module(script: str, payload: object, *, timeout: float = 60) -> Any:
    """Run ``script`` (an ES module, cwd ``web/``) with ``payload`` as JSON on its stdin; the
    JSON it prints. A failing script fails the test with its stderr."""
    assert NODE is not None
    done = subprocess.run(
        [NODE, "--input-type=module", "-e", script],
        input=json.dumps(payload),
        cwd=web.ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
