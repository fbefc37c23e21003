"""Debian's firefox-esr, one page of it, driven from a test through scripts/firefox_driver.mjs
(puppeteer-core over WebDriver BiDi: Playwright cannot drive a stock Firefox).

Both come from the test command's set-up: scripts/system-deps.sh installs firefox-esr (as
root), scripts/setup.sh test installs web/node_modules (puppeteer-core, pinned in
web/package.json). Without either (a fresh clone, not root) the tests skip and say which."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
DRIVER = ROOT / "scripts" / "firefox_driver.mjs"
FIREFOX = shutil.which("firefox-esr")
NODE = shutil.which("node")
PUPPETEER = ROOT / "web" / "node_modules" / "puppeteer-core" / "package.json"


def missing() -> str | None:
    """Why Firefox cannot be driven here, or None."""
    if FIREFOX is None:
        return "needs Debian's firefox-esr (scripts/system-deps.sh installs it as root)"
    if NODE is None:
        return "needs node to run scripts/firefox_driver.mjs"
    if not PUPPETEER.exists():
        return "needs web/node_modules/puppeteer-core (scripts/setup.sh test installs it)"
    return None


needs_firefox = pytest.mark.skipif(missing() is not None, reason=missing() or "")


class DriverError(AssertionError):
    """The driver (or the page) refused an operation: the message is Firefox's."""


class FirefoxPage:
    """One page in one headless Firefox; each method is one driver operation, awaited."""

    def __init__(self, proc: asyncio.subprocess.Process, version: str) -> None:
        self.proc = proc
        self.version = version
        self._next = 0

    async def _op(self, op: str, timeout: float = 30, **args: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self._next += 1
        self.proc.stdin.write(json.dumps({"id": self._next, "op": op, **args}).encode() + b"\n")
        await self.proc.stdin.drain()
        line = await asyncio.wait_for(self.proc.stdout.readline(), timeout)
        if not line:
            raise DriverError(f"the Firefox driver exited during {op}")
        answer = json.loads(line)
        assert answer.get("id") == self._next, answer
        if "error" in answer:
            raise DriverError(f"{op} {args}: {answer['error']}")
        return answer["value"]

    async def goto(self, url: str) -> dict[str, Any]:
        """Navigate; the response's status and headers (lower-case names)."""
        return dict(await self._op("goto", url=url))

    async def viewport(self, width: int, height: int) -> None:
        await self._op("viewport", width=width, height=height)

    async def click(self, selector: str) -> None:
        await self._op("click", selector=selector)

    async def type(self, selector: str, text: str) -> None:
        """Key by key into the element, as a person types (Korean included)."""
        await self._op("type", selector=selector, text=text)

    async def press(self, key: str, selector: str | None = None) -> None:
        await self._op("press", key=key, selector=selector)

    async def evaluate(self, expr: str) -> Any:
        """A JavaScript expression's JSON value (run by the browser, so the CSP allows it)."""
        return await self._op("evaluate", expr=expr)

    async def wait_for(self, expr: str, timeout: float = 10) -> Any:
        """Until the expression is truthy in the page (polled every 0.1 s); its value."""
        return await self._op("waitFor", timeout + 5, expr=expr, timeoutMs=int(timeout * 1000))

    async def screenshot(self, path: Path) -> None:
        await self._op("screenshot", path=str(path))

    async def requests(self) -> list[str]:
        """Every URL the page requested so far."""
        return list(await self._op("requests"))

    async def errors(self) -> list[str]:
        """Uncaught page errors and CSP reports so far."""
        return list(await self._op("errors"))


@asynccontextmanager
async def firefox_page(
    camera: bool = True, start_timeout: float = 90
) -> AsyncIterator[FirefoxPage]:
    """A started headless Firefox with one page; closed on exit (stdin shut: the driver closes
    the browser; killed with its process group if it hangs)."""
    assert NODE is not None
    proc = await asyncio.create_subprocess_exec(
        NODE, str(DRIVER), *([] if camera else ["--no-camera"]),
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, cwd=ROOT,
        limit=16 * 1024 * 1024, start_new_session=True)
    try:
        assert proc.stdout is not None and proc.stdin is not None
        line = await asyncio.wait_for(proc.stdout.readline(), start_timeout)
        hello = json.loads(line) if line else {"error": "the driver exited"}
        if not hello.get("ready"):
            raise DriverError(f"Firefox did not start: {hello.get('error')}")
        yield FirefoxPage(proc, str(hello["version"]))
    finally:
        if proc.stdin is not None and not proc.stdin.is_closing():
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            # Hung: the driver and the Firefox it started (its own process group) go at once.
            os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
