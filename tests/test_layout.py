"""The repository's layout rules, checked so they stay true.

Why: scripts that put the repository (or ``tests/``) on ``sys.path`` work only from a checkout
and hide import mistakes the installed package would show; CI that does more than the README's
test command lets the two drift apart. Scripts import installed packages (``netlab`` for the
network lab and the soak report), and ``.ci/run`` is the README's command, nothing else.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPTS = sorted((REPO / "scripts").rglob("*.py"))
#: Packages a script must not import: they are not installed (``tests``), or not a package.
FORBIDDEN_IMPORTS = ("tests", "scripts")


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    out = []
    for node in ast.walk(tree):
        where = f"{path.name}:{getattr(node, 'lineno', '?')}"
        if (
            isinstance(node, ast.Attribute)
            and node.attr == "path"
            and isinstance(node.value, ast.Name)
            and node.value.id == "sys"
        ):
            out.append(f"{where}: uses sys.path")
        elif isinstance(node, ast.ImportFrom) and node.module == "sys":
            if any(alias.name == "path" for alias in node.names):
                out.append(f"{where}: imports sys.path")
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.append(node.module)
            for name in names:
                if name.split(".")[0] in FORBIDDEN_IMPORTS:
                    out.append(f"{where}: imports {name}")
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "addsitedir":
            out.append(f"{where}: site.addsitedir")
    return out


def test_scripts_neither_edit_sys_path_nor_import_tests() -> None:
    assert SCRIPTS, "no scripts found"
    found = [f"{p.relative_to(REPO).parent}/{v}" for p in SCRIPTS for v in _violations(p)]
    assert not found, "scripts must import installed packages only:\n" + "\n".join(found)


def test_the_checker_sees_what_it_forbids(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import sys\nsys.path.insert(0, '.')\nfrom tests import netlab\nimport scripts.x\n"
        "from sys import path\n"
    )
    found = _violations(bad)
    assert len(found) == 4, found


#: Every script's ``--help``, run once per module, two at a time: each is a fresh interpreter
#: importing its heavy packages (aiortc, matplotlib, MediaPipe), CPU-bound, so two cores halve it.
HELP_SCRIPTS = sorted((REPO / "scripts").glob("*.py"))


@pytest.fixture(scope="module")
def help_runs(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[Path, subprocess.CompletedProcess[str]]:
    cwd = tmp_path_factory.mktemp("outside")  # not the checkout: imports must be installed

    def run(script: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(script), "--help"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
        )

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return dict(zip(HELP_SCRIPTS, pool.map(run, HELP_SCRIPTS), strict=True))


@pytest.mark.slow
@pytest.mark.parametrize("script", HELP_SCRIPTS, ids=lambda p: p.name)
def test_script_starts_outside_the_checkout(
    script: Path, help_runs: dict[Path, subprocess.CompletedProcess[str]]
) -> None:
    """``--help`` from another folder: every import resolves to an installed package."""
    proc = help_runs[script]
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage:" in proc.stdout


def test_ci_runs_exactly_the_readme_test_command() -> None:
    commands = [
        line.strip()
        for line in (REPO / ".ci" / "run").read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert commands[:1] == ["set -euo pipefail"]
    assert commands[1].startswith("cd ")
    assert commands[2:] == ["bash scripts/test.sh"], commands
    readme = (REPO / "README.md").read_text()
    assert "```sh\nbash scripts/test.sh\n```" in readme
