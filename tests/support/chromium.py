"""Headless Chromium for the browser test, driven over the DevTools protocol through a pipe
(``--remote-debugging-pipe``: JSON messages separated by NUL on fds 3/4), so no websocket library
is needed.

``ensure_chromium()`` finds Chromium, installing Debian's ``chromium`` package with apt when it is
absent and we are root; it returns None with the reason when that is impossible.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--hide-scrollbars", "--mute-audio")
#: a browser that has not answered a command (or sent an awaited event) this long after it was asked
#: is considered hung: a guard against a stuck browser, not a performance check
HANG_GUARD_S = 300.0
#: the same guard for installing Chromium with apt (a stalled mirror or a held dpkg lock)
APT_GUARD_S = 900.0
#: apt's own network timeouts and retries, and how long it waits for a dpkg lock held by another apt
APT_OPTIONS = ("-o", "Acquire::http::Timeout=60", "-o", "Acquire::Retries=3", "-o", "DPkg::Lock::Timeout=120")


def find_chromium() -> str | None:
    """Path of an installed Chromium/Chrome, or None."""
    if Path("/usr/bin/chromium").is_file():
        return "/usr/bin/chromium"
    for name in CANDIDATES:
        p = shutil.which(name)
        if p:
            return p
    return None


def ensure_chromium() -> tuple[str | None, str]:
    """(path, "") when Chromium is available (installing it with apt if needed), else (None, why)."""
    p = find_chromium()
    if p:
        return p, ""
    if shutil.which("apt-get") is None:
        return None, "Chromium is not installed and there is no apt-get to install it"
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return None, "Chromium is not installed and installing it needs root (apt-get install -y chromium)"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for what, args in (("apt-get update", ["update"]),
                       ("apt-get install chromium", ["install", "-y", "--no-install-recommends", "chromium"])):
        try:
            r = subprocess.run(["apt-get", *APT_OPTIONS, *args], capture_output=True, text=True, env=env,
                               stdin=subprocess.DEVNULL, timeout=APT_GUARD_S)
        except subprocess.TimeoutExpired:
            return None, f"{what} did not finish within {APT_GUARD_S:.0f} s"
        if r.returncode != 0:
            return None, f"{what} failed: {r.stderr.strip()[-300:]}"
    p = find_chromium()
    return (p, "") if p else (None, "apt-get installed chromium but no chromium binary was found")


@dataclass
class PageResult:
    """What loading a page showed: console errors, uncaught exceptions, evaluated values, screenshot."""

    errors: list[str] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    screenshot: bytes = b""


class _Pipe:
    def __init__(self, proc: subprocess.Popen, to_browser: int, from_browser: int) -> None:
        self.proc, self.w, self.r = proc, to_browser, from_browser
        self.buf = b""
        self.next_id = 0
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> int:
        self.next_id += 1
        msg: dict[str, Any] = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        return self.next_id

    def _read_one(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self.r], [], [], left) if left > 0 else ([], [], [])
            if not ready:
                raise RuntimeError(f"Chromium gave no answer within {HANG_GUARD_S:.0f} s (hung)")
            chunk = os.read(self.r, 1 << 20)
            if not chunk:
                raise RuntimeError(f"Chromium closed the DevTools pipe (exit code {self.proc.poll()})")
            self.buf += chunk
        raw, self.buf = self.buf.split(b"\0", 1)
        return json.loads(raw)

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        """Send a command and wait for its answer (events that arrive meanwhile are kept); a browser that
        has not answered within HANG_GUARD_S, however many events it sends, is hung."""
        i = self.send(method, params, session)
        deadline = time.monotonic() + HANG_GUARD_S
        while True:
            m = self._read_one(deadline)
            if m.get("id") == i:
                if "error" in m:
                    raise RuntimeError(f"{method}: {m['error']}")
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method: str) -> dict[str, Any]:
        """The first event ``method`` (kept or new), waiting at most HANG_GUARD_S for it."""
        for k, m in enumerate(self.events):
            if m.get("method") == method:
                return self.events.pop(k)
        deadline = time.monotonic() + HANG_GUARD_S
        while True:
            m = self._read_one(deadline)
            if m.get("method") == method:
                return m
            self.events.append(m)


def _collect(events: list[dict[str, Any]], res: PageResult) -> None:
    for m in events:
        meth, p = m.get("method"), m.get("params", {})
        if meth == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            res.messages.append(f"console.{p.get('type')}: {text}")
            if p.get("type") in ("error", "assert"):
                res.errors.append(f"console.{p.get('type')}: {text}")
        elif meth == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            res.errors.append("uncaught: " + str(d.get("exception", {}).get("description") or d.get("text")))
        elif meth == "Log.entryAdded":
            e = p.get("entry", {})
            res.messages.append(f"log.{e.get('level')}: {e.get('text')} ({e.get('url', '')})")
            if e.get("level") == "error":
                res.errors.append(f"log.error: {e.get('text')} ({e.get('url', '')})")


def load_page(chromium: str, url: str, expressions: dict[str, str], *, width: int = 1300,
              wait_expression: str = "true") -> PageResult:
    """Open ``url`` headless, wait for load and for ``wait_expression`` (JS, polled each animation
    frame), evaluate ``expressions`` (name -> JS), take a full-page PNG screenshot, and collect
    console errors, uncaught exceptions and browser log errors."""
    r_to, w_to = os.pipe()      # we write, browser reads on fd 3
    r_from, w_from = os.pipe()  # browser writes on fd 4, we read

    def child_fds() -> None:  # in the child: our pipe ends onto fds 3 and 4, whatever numbers they had
        a = fcntl.fcntl(r_to, fcntl.F_DUPFD, 10)
        b = fcntl.fcntl(w_from, fcntl.F_DUPFD, 10)
        os.dup2(a, 3)
        os.dup2(b, 4)

    with tempfile.TemporaryDirectory(prefix="dtao-chromium-") as ud:
        proc = subprocess.Popen([chromium, *FLAGS, f"--user-data-dir={ud}", "--remote-debugging-pipe",
                                 f"--window-size={width},900", "about:blank"], preexec_fn=child_fds,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, close_fds=True,
                                pass_fds=(3, 4))
        os.close(r_to)
        os.close(w_from)
        pipe = _Pipe(proc, w_to, r_from)
        res = PageResult()
        try:
            target = pipe.call("Target.createTarget", {"url": "about:blank"})["targetId"]
            sess = pipe.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
            for dom in ("Runtime", "Log", "Page"):
                pipe.call(f"{dom}.enable", session=sess)
            pipe.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": 900, "deviceScaleFactor": 1,
                                                             "mobile": False}, session=sess)
            pipe.call("Page.navigate", {"url": url}, session=sess)
            pipe.wait_event("Page.loadEventFired")
            waiter = ("new Promise(res => { const t0 = performance.now(); const f = () => { "
                      f"if ({wait_expression}) res(true); else if (performance.now() - t0 > 60000) res(false); "
                      "else requestAnimationFrame(f); }; f(); })")
            ok = pipe.call("Runtime.evaluate", {"expression": waiter, "awaitPromise": True, "returnByValue": True},
                           session=sess)
            res.values["_ready"] = ok.get("result", {}).get("value")
            for name, expr in expressions.items():
                out = pipe.call("Runtime.evaluate", {"expression": expr, "returnByValue": True}, session=sess)
                if "exceptionDetails" in out:
                    res.errors.append(f"evaluating {name}: {out['exceptionDetails'].get('text')}")
                res.values[name] = out.get("result", {}).get("value")
            height = pipe.call("Runtime.evaluate", {"expression": "document.documentElement.scrollHeight",
                                                    "returnByValue": True}, session=sess)["result"]["value"]
            pipe.call("Emulation.setDeviceMetricsOverride", {"width": width, "height": int(min(height, 16000)),
                                                             "deviceScaleFactor": 1, "mobile": False}, session=sess)
            shot = pipe.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True}, session=sess)
            res.screenshot = base64.b64decode(shot["data"])
            _collect(pipe.events, res)
            try:
                pipe.send("Browser.close")
            except OSError:
                pass
        finally:
            os.close(w_to)
            os.close(r_from)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return res
