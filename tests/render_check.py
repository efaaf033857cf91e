"""Render an HTML report in headless Chromium and check what a reader would see.

Usage: python3 tests/render_check.py results/report/report.html [--screenshot page.png]

Talks to Chromium over the DevTools protocol on a pipe (--remote-debugging-pipe:
commands on fd 3, replies on fd 4, NUL-separated JSON), so no websocket client
is needed. Checks: every image decodes, is laid out with a size and is not a
blank region on the rendered page; every table has rows and no empty data
cell; no console message of level error/warning, no uncaught exception; no
request leaves the file (self-contained). Prints a JSON summary; exit code 1
when a check fails. Needs Debian's `chromium`
(`apt-get install -y --no-install-recommends chromium`).
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import fcntl
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

INSTALL_HINT = "install it with: apt-get install -y --no-install-recommends chromium"
PAGE_PROBE = """(async () => {
  const imgs = [...document.images];
  const decoded = await Promise.all(imgs.map(i => i.decode().then(() => true, () => false)));
  const box = e => { const r = e.getBoundingClientRect();
    return {x: r.left + window.scrollX, y: r.top + window.scrollY, w: r.width, h: r.height}; };
  return {
    images: imgs.map((i, k) => ({alt: i.alt, decoded: decoded[k], natural_width: i.naturalWidth,
      natural_height: i.naturalHeight, box: box(i)})),
    tables: [...document.querySelectorAll('table')].map(t => ({rows: t.tBodies.length ?
      t.tBodies[0].rows.length : 0, empty_cells: [...t.querySelectorAll('td')]
      .filter(c => c.textContent.trim() === '').length, box: box(t),
      caption: t.caption ? t.caption.textContent.slice(0, 60) : ''})),
    text_length: document.body.innerText.length,
    page_width: document.documentElement.scrollWidth,
    page_height: document.documentElement.scrollHeight,
    title: document.title,
  };
})()"""


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    raise FileNotFoundError(f"no Chromium found on PATH; {INSTALL_HINT}")


class DevTools:
    """Minimal DevTools-protocol client over Chromium's debugging pipe."""

    def __init__(self, width: int = 1280, height: int = 900, timeout: float = 60):
        self.timeout = timeout
        self.events: list[dict] = []
        self._next_id = 0
        self._buffer = b""
        self._profile = tempfile.mkdtemp(prefix="dnatune-chromium-")
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def attach_pipes():  # child side: the protocol expects exactly fds 3 and 4
            high_r = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            high_w = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(high_r, 3)
            os.dup2(high_w, 4)

        self.process = subprocess.Popen(
            [
                find_chromium(),
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--remote-debugging-pipe",
                f"--user-data-dir={self._profile}",
                f"--window-size={width},{height}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            preexec_fn=attach_pipes,
            close_fds=False,
        )
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.session = None
        targets = self.call("Target.getTargets")["targetInfos"]
        page = next(t for t in targets if t["type"] == "page")
        self.session = self.call(
            "Target.attachToTarget", {"targetId": page["targetId"], "flatten": True}
        )["sessionId"]
        self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )

    def call(self, method: str, params: dict | None = None) -> dict:
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params or {}}
        if self.session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + self.timeout
        while True:
            reply = self._read(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise RuntimeError(f"DevTools {method} failed: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def wait_for(self, method: str) -> dict:
        deadline = time.monotonic() + self.timeout
        for event in self.events:
            if event.get("method") == method:
                return event
        while True:
            event = self._read(deadline)
            self.events.append(event)
            if event.get("method") == method:
                return event

    def _read(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 20)
            if not chunk:
                err = self.process.stderr.read().decode(errors="replace")[-2000:]
                raise RuntimeError(f"Chromium exited: {err}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def close(self) -> None:
        try:
            self.session = None
            self.call("Browser.close")
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for fd in (self._to_browser, self._from_browser):
            with contextlib.suppress(OSError):
                os.close(fd)
        shutil.rmtree(self._profile, ignore_errors=True)


@dataclass
class RenderResult:
    page: dict
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    blank_images: list[str] = field(default_factory=list)
    screenshot: bytes = b""

    def problems(self) -> list[str]:
        out = [f"console: {c}" for c in self.console]
        out += [f"network request: {r}" for r in self.requests]
        for image in self.page["images"]:
            if not image["decoded"] or image["natural_width"] == 0:
                out.append(f"image does not decode: {image['alt']}")
            elif image["box"]["w"] < 50 or image["box"]["h"] < 50:
                out.append(f"image laid out too small: {image['alt']} {image['box']}")
        out += [f"image renders blank: {alt}" for alt in self.blank_images]
        for table in self.page["tables"]:
            if table["rows"] == 0 or table["box"]["h"] == 0:
                out.append(f"table without rows: {table['caption']!r}")
            if table["empty_cells"]:
                out.append(f"table with {table['empty_cells']} empty cells: {table['caption']!r}")
        if self.page["text_length"] < 200:
            out.append("page has almost no text")
        return out


def render(html_path: str | Path, width: int = 1280) -> RenderResult:
    """Load the file in headless Chromium, probe the DOM, screenshot the whole page."""
    from PIL import Image, ImageStat

    url = Path(html_path).resolve().as_uri()
    browser = DevTools(width=width)
    try:
        for domain in ("Page", "Runtime", "Log", "Network"):
            browser.call(f"{domain}.enable")
        browser.call("Page.navigate", {"url": url})
        browser.wait_for("Page.loadEventFired")
        probe = browser.call(
            "Runtime.evaluate",
            {"expression": PAGE_PROBE, "awaitPromise": True, "returnByValue": True},
        )
        if "exceptionDetails" in probe:
            raise RuntimeError(f"page probe failed: {probe['exceptionDetails']}")
        page = probe["result"]["value"]
        shot = browser.call(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {
                    "x": 0,
                    "y": 0,
                    "width": page["page_width"],
                    "height": page["page_height"],
                    "scale": 1,
                },
            },
        )
        events = list(browser.events)
    finally:
        browser.close()
    result = RenderResult(page=page, screenshot=base64.b64decode(shot["data"]))
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "warning"):
            args = " ".join(str(a.get("value", a.get("description", ""))) for a in params["args"])
            result.console.append(f"{params['type']}: {args}")
        elif method == "Runtime.exceptionThrown":
            result.console.append(f"exception: {params['exceptionDetails'].get('text')}")
        elif method == "Log.entryAdded" and params["entry"]["level"] in ("error", "warning"):
            entry = params["entry"]
            result.console.append(f"{entry['level']}: {entry['text']} {entry.get('url', '')}")
        elif method == "Network.requestWillBeSent":
            request_url = params["request"]["url"]
            if not request_url.startswith(("data:", url)):
                result.requests.append(request_url)
    shot_image = Image.open(io.BytesIO(result.screenshot)).convert("L")
    for image in page["images"]:
        b = image["box"]
        region = shot_image.crop((b["x"], b["y"], b["x"] + b["w"], b["y"] + b["h"]))
        if region.size[0] == 0 or ImageStat.Stat(region).stddev[0] < 5:
            result.blank_images.append(image["alt"])
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("html")
    parser.add_argument("--screenshot", help="write the full-page screenshot (PNG) here")
    parser.add_argument("--width", type=int, default=1280)
    args = parser.parse_args(argv)
    result = render(args.html, args.width)
    if args.screenshot:
        Path(args.screenshot).write_bytes(result.screenshot)
    problems = result.problems()
    print(
        json.dumps(
            {
                "images": len(result.page["images"]),
                "tables": len(result.page["tables"]),
                "page_height": result.page["page_height"],
                "problems": problems,
            },
            indent=1,
        )
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
