"""`midimon run`: the daemon in the foreground."""

from __future__ import annotations

import logging
import signal
import sys
from pathlib import Path

from midimon.config import ConfigError, paths


def register(sub) -> None:
    p = sub.add_parser("run", help="run the daemon in the foreground")
    p.add_argument("--config", metavar="PATH", help="config file (default: MIDIMON_HOME/config.toml)")
    p.add_argument("--mode", help="start in this mode")
    p.set_defaults(handler=cmd_run)


def cmd_run(args) -> int:
    from midimon.engine.daemon import Daemon, ensure_config

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("midimon")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG if args.debug else logging.INFO)

    config_path = Path(args.config).expanduser() if args.config else paths.config_file()
    if ensure_config(config_path):
        logger.info("no config found: wrote a commented starter config to %s", config_path)
    daemon = Daemon(config_path)
    _install_extensions(daemon)
    import threading

    stop_requested = threading.Event()

    def on_signal(signum, _frame):
        if signum == getattr(signal, "SIGHUP", None):
            threading.Thread(target=daemon.reload, kwargs={"source": "SIGHUP"}, daemon=True).start()
            return
        logger.info("stopping (%s)", signal.Signals(signum).name)
        stop_requested.set()  # the main thread stops the daemon; never mid-way through start()

    # before start(): a signal during start-up must still close the ports (JACK stalls otherwise)
    for sig in (signal.SIGTERM, signal.SIGINT, getattr(signal, "SIGHUP", None)):
        if sig is not None:
            signal.signal(sig, on_signal)
    try:
        daemon.start(mode=args.mode)
    except ConfigError as exc:
        print(f"midimon: cannot start: {exc}", file=sys.stderr)
        daemon.stop()
        return 1
    try:
        while not stop_requested.wait(0.5) and not daemon.wait(0):
            pass
    finally:
        daemon.stop()
    return 0


def _install_extensions(daemon) -> None:
    """Live reload, control socket, plugins: each optional module attaches itself."""
    import importlib

    for name in ("midimon.engine.live", "midimon.plugins.manager"):
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.attach(daemon)
