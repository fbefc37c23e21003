"""The page's ES modules run in Node for unit tests: one way to start them, so each test module
holds only its script and its assertions (the page has no build step: the tests import the very
files the browser loads, from ``web/``)."""

from __future__ import annotations

import json
import shutil
import subprocess
from typing import Any

import pytest

import web

NODE = shutil.which("node")
#: Mark a test module (``pytestmark = needs_node``) that runs the page's modules.
needs_node = pytest.mark.skipif(NODE is None, reason="needs node to run the page's modules")


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
