#!/usr/bin/env python3
"""Benchmarks of the web UI: a plugin save shown in an open page, the first view, the bundle.

Run: .venv/bin/python benchmarks/bench_ui.py [--quick] [--out FILE]
Prints a table and writes JSON (default benchmarks/results/ui.json). Needs Debian's chromium.

(a) save -> shown: a real `midimon run` and `midimon ui`, a page open on the Plugins view. The
    plugin file is rewritten with a new version; the daemon's swap time is the `time` of the
    change the feed publishes for that record (read from `watch` on the socket, same clock);
    "shown" is when the row holds the new version, found by requestAnimationFrame polling in
    the page. The figure is shown - swap.
(b) first view interactive: a new browser context opens the printed URL (token -> cookie ->
    redirect) until the first plugin's enable switch is there and enabled, timed in the page
    (performance.now() from navigation start, found by requestAnimationFrame polling).
(c) the built front end's size, gzipped (level 9), file by file.
"""

from __future__ import annotations

import argparse
import gzip
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "ui"))

from benchlib import machine, ms, pct, write_results  # noqa: E402

PLUGIN = '''"""Benchmark plugin."""
version = "{version}"


def execute(params, context):
    return None
'''
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def bundle_sizes() -> dict:
    static = ROOT / "engine" / "ui" / "static"
    files = {}
    for f in sorted(static.rglob("*")):
        if f.is_file() and f.suffix in (".js", ".css", ".html"):
            raw = f.read_bytes()
            files[str(f.relative_to(static))] = {"bytes": len(raw), "gzip_bytes": len(gzip.compress(raw, 9))}
    return {
        "files": files,
        "total_bytes": sum(v["bytes"] for v in files.values()),
        "total_gzip_bytes": sum(v["gzip_bytes"] for v in files.values()),
    }


class SwapTimes:
    """The feed's publish time of each plugin record change, by (name, version)."""

    def __init__(self, socket_path: Path) -> None:
        from midimon.engine.live.client import Client

        self.times: dict[tuple[str, str], float] = {}
        self._client = Client(socket_path, timeout=30)
        self._stream = self._client.stream("watch", {})
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        for item in self._stream:
            change = item.get("change") or {}
            data = change.get("data") or {}
            if change.get("kind") == "plugin" and data.get("version"):
                self.times.setdefault((data["name"], data["version"]), change["time"])


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "ui.json"))
    args = ap.parse_args()
    saves = 10 if args.quick else 40
    opens = 5 if args.quick else 20

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("bench_ui: skipped: Playwright is in the test extra (pip install -e '.[test]')")
        return 0
    if not Path("/usr/bin/chromium").exists():
        print("bench_ui: skipped: needs Debian's chromium (apt-get install chromium)")
        return 0
    from stack import Stack

    out: dict = {"machine": machine(), "bundle": bundle_sizes()}
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
        home = Path(tmp)
        (home / "plugins").mkdir()
        target = home / "plugins" / "benchy.py"
        target.write_text(PLUGIN.format(version="0.0.0"))
        stack = Stack(home, '[[modes]]\nname = "Default"\n')
        try:
            swaps = SwapTimes(home / "run" / "midimon.sock")
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=FLAGS)
                # (b) first view: timed in the page, from navigation start (the token redirect
                # included) to the first frame where the switch is there and enabled
                probe = """(() => {
                    const look = () => {
                      const s = document.querySelector('[aria-label="Enable benchy"]');
                      if (s && !s.disabled) window.__interactive = performance.now();
                      else requestAnimationFrame(look);
                    };
                    requestAnimationFrame(look);
                })()"""
                first: list[float] = []
                wall: list[float] = []
                for _ in range(opens):
                    ctx = browser.new_context()
                    ctx.add_init_script(probe)
                    page = ctx.new_page()
                    t0 = time.perf_counter()
                    page.goto(stack.ui.url)
                    page.wait_for_function("() => window.__interactive !== undefined")
                    wall.append(time.perf_counter() - t0)
                    first.append(page.evaluate("window.__interactive") / 1000)
                    ctx.close()
                # (a) save -> shown
                ctx = browser.new_context()
                page = ctx.new_page()
                page.goto(stack.ui.url)
                page.locator("tr[data-plugin=benchy]").wait_for()
                lat: list[float] = []
                missed = 0
                for i in range(1, saves + 1):
                    version = f"1.0.{i}"
                    tmpfile = target.with_name(".benchy.tmp")
                    tmpfile.write_text(PLUGIN.format(version=version))
                    tmpfile.replace(target)
                    shown_ms = page.evaluate(
                        """(v) => new Promise((resolve) => {
                            const check = () => {
                              const row = document.querySelector('tr[data-plugin=benchy]');
                              if (row && row.textContent.includes(v)) resolve(Date.now());
                              else requestAnimationFrame(check);
                            };
                            check();
                        })""",
                        version,
                    )
                    deadline = time.time() + 5
                    while ("benchy", version) not in swaps.times and time.time() < deadline:
                        time.sleep(0.005)
                    swap = swaps.times.get(("benchy", version))
                    if swap is None:
                        missed += 1
                        continue
                    lat.append(shown_ms / 1000 - swap)
                    time.sleep(0.4)  # let the watcher's debounce settle between saves
                ctx.close()
                browser.close()
        finally:
            stack.close()
    out["first_view_interactive"] = ms(first)
    out["first_view_interactive_wall"] = ms(wall)  # seen from Python: adds Playwright's round trips
    out["save_shown_after_swap"] = {**ms(lat), "p95_ms": round(pct([x * 1000 for x in lat], 95), 3), "missed": missed}
    write_results(args.out, out)
    print(f"bundle: {out['bundle']['total_bytes']} bytes, {out['bundle']['total_gzip_bytes']} gzipped")
    print(f"first view interactive: {out['first_view_interactive']}")
    print(f"plugin save shown after the daemon's swap: {out['save_shown_after_swap']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
