"""`midimon ui`: the web UI (Plugin Manager and live console) on 127.0.0.1 (see docs/ui.md).

Its own process, a client of the daemon's control socket: a fault here never touches the
engine. It prints its URL (with the access token) as soon as it listens, then serves until
Ctrl-C; the token stays in the runtime folder, so running it again prints the same URL.
"""

from __future__ import annotations

import argparse
import sys
import webbrowser

from midimon.engine.cli import add_json, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("ui", help="open the web UI: manage plugins, watch the daemon live")
    p.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default 8737; 0 picks a free one)")
    p.add_argument("--no-browser", action="store_true", help="only print the URL; do not open a browser")
    add_json(p)
    p.set_defaults(handler=_ui)


def _ui(args: argparse.Namespace) -> int:
    from midimon.config.home import Home
    from midimon.engine.ui import DEFAULT_PORT, serve

    home: Home = args.home  # the CLI's one Home (engine/cli/__init__.py)
    port = DEFAULT_PORT if args.port is None else args.port
    if not 0 <= port <= 65535:
        from midimon.engine.cli import fail

        return fail(f"--port {port}: a port is 0 to 65535", as_json=args.json)

    def listening(url: str) -> None:
        if args.json:
            print_json({"ok": True, "url": url, "token_file": str(home.ui_token), "socket": str(home.socket)})
        else:
            print(f"midimon ui: {url}", flush=True)
            print("  (Ctrl-C stops it; the daemon keeps running)", file=sys.stderr, flush=True)
        if not args.no_browser:
            try:
                webbrowser.open(url, new=2)
            except Exception:  # no browser here: the printed URL is enough
                pass

    try:
        serve(home, port, on_listening=listening)
    except KeyboardInterrupt:
        pass
    return 0
