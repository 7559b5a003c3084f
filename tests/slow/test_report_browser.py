"""report.html in a real browser: headless Chromium (Debian's `chromium`) opens the page of a real tiny run and the
test reads back, over the DevTools protocol, that the recommendation is shown, every chart drew its marks, nothing
was fetched and no console error was raised; the full-page screenshot is saved as runs/<id>/report.png.

The DevTools client is a few lines of stdlib websocket (no websocket package is a dependency): chromium's stderr
does not tell console.error from console.log, and --dump-dom says nothing of errors or of drawn sizes.
"""
from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from conftest import save_tiny_model, write_word_labels

from tunewise import api
from tunewise.config import load_config

pytestmark = pytest.mark.slow

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
WIDTH = 1280
# What the page shows, measured in the browser: the recommendation and, per chart, its drawn size and the marks
# (points, cells, lines) that have a non-empty box on screen.
PROBE = """JSON.stringify({
  recommendation: (document.getElementById('recommendation') || {}).textContent,
  text: document.body.innerText,
  charts: [...document.querySelectorAll('svg')].map(svg => {
    const box = svg.getBoundingClientRect();
    const drawn = [...svg.querySelectorAll('.point, .cell, .series, .frontier')]
      .filter(e => { const b = e.getBoundingClientRect(); return b.width > 0 || b.height > 0; }).length;
    return {title: svg.getAttribute('aria-label'), width: box.width, height: box.height, drawn: drawn};
  }),
})"""


def chromium() -> str:
    """chromium's path, installed from Debian's archive when it is missing (as root or with password-less sudo)."""
    found = shutil.which("chromium")
    if found:
        return found
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if sudo and not shutil.which("sudo"):
        pytest.skip("chromium is not installed and cannot be: not root and no sudo (install it: apt-get install "
                    "chromium, or run `make test-browser` as a user who may)")
    for command in (["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", "chromium"]):
        done = subprocess.run(sudo + command, check=False, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            pytest.skip(f"chromium is not installed and `{' '.join(sudo + command)}` failed: {done.stderr[-500:]}")
    return shutil.which("chromium") or pytest.skip("apt-get installed chromium but it is not on PATH")


class DevTools:
    """A Chrome DevTools Protocol session over one websocket (RFC 6455 text frames, stdlib only)."""

    def __init__(self, url: str):
        parts = urllib.parse.urlparse(url)
        self.sock = socket.create_connection((parts.hostname, parts.port), timeout=60)
        self.stream = self.sock.makefile("rb")
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall((f"GET {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\nUpgrade: websocket\r\n"
                           f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")
                          .encode())
        status = self.stream.readline()
        assert b" 101 " in status, f"DevTools refused the websocket: {status!r}"
        while self.stream.readline() not in (b"\r\n", b""):
            pass
        self.last_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        """Send a command and return its result; events that arrive meanwhile are kept in `events`."""
        self.last_id += 1
        self._send(json.dumps({"id": self.last_id, "method": method, "params": params}).encode())
        while True:
            message = self._receive()
            if message.get("id") == self.last_id:
                assert "error" not in message, f"{method}: {message['error']}"
                return message["result"]
            self.events.append(message)

    def wait_for(self, event: str, timeout: float = 60) -> None:
        end = time.monotonic() + timeout
        while not any(e.get("method") == event for e in self.events):
            assert time.monotonic() < end, f"no {event} within {timeout} s"
            self.events.append(self._receive())

    def close(self) -> None:
        self.stream.close()
        self.sock.close()

    def _send(self, payload: bytes) -> None:
        n = len(payload)
        length = bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + struct.pack(">H", n) if n < 65536 \
            else bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)  # clients must mask every frame
        self.sock.sendall(bytes([0x81]) + length + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload)))

    def _receive(self) -> dict:
        chunks = []
        while True:
            first, second = self._read(2)
            n = second & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._read(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._read(8))[0]
            data = self._read(n)  # a server never masks its frames
            opcode = first & 0x0F
            assert opcode != 0x8, "DevTools closed the websocket"
            if opcode in (0x9, 0xA):  # ping / pong: not part of a message
                continue
            chunks.append(data)
            if first & 0x80:  # the message's last frame
                return json.loads(b"".join(chunks))

    def _read(self, n: int) -> bytes:
        data = self.stream.read(n)
        assert len(data) == n, "DevTools closed the connection"
        return data


def start_chromium(binary: str, profile: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """(process, DevTools HTTP address) of a headless chromium on a free port, showing about:blank."""
    with open(log, "wb") as err:  # a file, not a pipe: chromium writes a lot to stderr and must never block on it
        process = subprocess.Popen([binary, *FLAGS, "--remote-debugging-port=0", f"--user-data-dir={profile}",
                                    "--hide-scrollbars", "about:blank"], stdout=subprocess.DEVNULL, stderr=err,
                                   start_new_session=True)
    end = time.monotonic() + 60
    while time.monotonic() < end:
        for line in log.read_text(errors="replace").splitlines():
            if line.startswith("DevTools listening on ws://"):
                return process, urllib.parse.urlparse(line.split()[-1]).netloc
        assert process.poll() is None, f"chromium exited ({process.returncode}): {log.read_text()[-2000:]}"
        time.sleep(0.1)
    stop(process)
    raise AssertionError(f"chromium printed no DevTools address within 60 s: {log.read_text()[-2000:]}")


def stop(process: subprocess.Popen) -> None:
    """End the chromium this test started, with the helper processes of its session."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture(scope="module")
def finished(tmp_path_factory, tiny_tokenizer):
    """A real tiny run with every chart: zero_shot, a few-shot k-sweep and LoRA on a classification task."""
    folder = tmp_path_factory.mktemp("browser")
    model_dir = save_tiny_model(folder / "tiny-model", tiny_tokenizer)
    write_word_labels(folder / "data.jsonl")
    (folder / "tunewise.yaml").write_text(
        "task: {type: classification}\n"
        "data: {path: data.jsonl, max_length: 64}\n"
        f"model: {{name: {model_dir}}}\n"
        "rungs: [zero_shot, few_shot]\n"
        "prompt: {few_shot_k: [1, 2, 4], demo_selection: [balanced, random]}\n"
        "methods: [lora]\n"
        "train: {lr: 5.0e-3, max_steps: 12, batch_size: 8, precision: fp32, eval_every: 4, log_every: 2}\n"
        "lora: {r: 4, alpha: 8}\n"
        "eval: {bootstrap_samples: 100}\n"
        "forgetting: {max_items: 8}\n"
        f"output_dir: {folder / 'runs'}\n")
    return api.run(load_config(folder / "tunewise.yaml"), log=lambda m: None)


def test_chromium_draws_the_report_without_errors(finished, tmp_path):
    binary = chromium()
    run_dir, report = finished.run_dir, finished.report
    page = run_dir / "report.html"
    process, address = start_chromium(binary, tmp_path / "profile", tmp_path / "chromium.log")
    try:
        targets = json.loads(urllib.request.urlopen(f"http://{address}/json/list", timeout=30).read())
        tab = DevTools(next(t for t in targets if t["type"] == "page")["webSocketDebuggerUrl"])
        for domain in ("Page", "Runtime", "Log", "Network"):
            tab.call(f"{domain}.enable")
        tab.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=900, deviceScaleFactor=1, mobile=False)
        tab.call("Page.navigate", url=page.as_uri())
        tab.wait_for("Page.loadEventFired")
        shown = json.loads(tab.call("Runtime.evaluate", expression=PROBE, returnByValue=True)["result"]["value"])

        height = tab.call("Page.getLayoutMetrics")["cssContentSize"]["height"]
        tab.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=min(int(height) + 1, 16000),
                 deviceScaleFactor=1, mobile=False)
        png = base64.b64decode(tab.call("Page.captureScreenshot", format="png")["data"])
        (run_dir / "report.png").write_bytes(png)
        time.sleep(0.2)  # let late console messages arrive before reading them
        tab.call("Runtime.evaluate", expression="1")
        events = tab.events
        tab.close()
    finally:
        stop(process)

    errors = [e["params"] for e in events
              if e["method"] == "Runtime.exceptionThrown"
              or e["method"] == "Runtime.consoleAPICalled" and e["params"]["type"] in ("error", "assert")
              or e["method"] == "Log.entryAdded" and e["params"]["entry"]["level"] == "error"]
    assert errors == []
    fetched = [e["params"]["request"]["url"] for e in events if e["method"] == "Network.requestWillBeSent"]
    assert all(url == page.as_uri() or url.startswith("data:") for url in fetched), fetched

    rec = report["recommendation"]
    assert shown["recommendation"] == rec["rung"] and rec["reason"] in shown["text"]
    charts = {c["title"]: c for c in shown["charts"]}
    scored = [r for r in report["rungs"] if not r.get("skipped")]
    expected = {  # chart title -> at least this many drawn marks
        "accuracy against training cost": len(scored),
        "accuracy against storage cost": len(scored),
        "lora: loss by optimizer step": 2,  # train and validation curves
        "accuracy by number of demonstrations": 2,  # one curve per demo selection
        f"{rec['rung']}: confusion matrix": len(report["task"]["labels"]) ** 2,
    }
    for title, marks in expected.items():
        assert title in charts, f"{title!r} not drawn; charts: {sorted(charts)}"
        chart = charts[title]
        assert chart["width"] > 100 and chart["height"] > 100 and chart["drawn"] >= marks, chart

    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, shot_height = struct.unpack(">II", png[16:24])  # the IHDR chunk
    assert width == WIDTH and shot_height > 2000 and len(png) > 50_000
    print(f"screenshot: {run_dir / 'report.png'}")
