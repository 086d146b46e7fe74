"""`midimon run`: the daemon in the foreground."""

from __future__ import annotations

import logging
import os
import signal
import sys

SAFE_MODE = "--safe-mode"


def register(sub) -> None:
    p = sub.add_parser("run", help="run the daemon in the foreground")
    p.add_argument("--config", metavar="PATH", help="config file (default: MIDIMON_HOME/config.toml)")
    p.add_argument("--mode", help="start in this mode")
    p.add_argument(
        SAFE_MODE,
        action="store_true",
        help="start with every plugin that does not ship with midimon off (for this run only)",
    )
    p.set_defaults(handler=cmd_run)


def cmd_run(args) -> int:
    from midimon.config import ConfigError
    from midimon.engine.daemon import Daemon, ensure_config

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)-7s %(message)s", "%H:%M:%S"))
    logger = logging.getLogger("midimon")
    logger.addHandler(handler)
    logger.propagate = False
    logger.setLevel(logging.DEBUG if args.debug else logging.INFO)

    home = args.home  # the CLI's one Home (engine/cli/__init__.py), --config included
    if ensure_config(home.config):
        logger.info("no config found: wrote a commented starter config to %s", home.config)
    daemon = Daemon(home=home, debug=args.debug, safe_mode=args.safe_mode)
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
    if daemon.restart_requested is not None:
        _reexec(daemon.restart_requested)
    return 0


def _install_extensions(daemon) -> None:
    """Live editing and the control socket, then the plugins: each plugs in through ``add``.
    A part that cannot be imported is an error, not something silently missing."""
    from midimon.engine.backends.jackrelay import RelayExtension
    from midimon.engine.live import attach
    from midimon.engine.plugin_ext import PluginExtension

    daemon.add(RelayExtension())  # first: it chooses the MIDI back end (JACK: the in-cycle relay)
    attach(daemon)
    daemon.add(PluginExtension(daemon, safe_mode=daemon.safe_mode))


def restart_argv(argv: list[str], safe_mode: bool) -> list[str]:
    """The same command line, plus or minus ``--safe-mode`` (after ``run``)."""
    out = [a for a in argv if a != SAFE_MODE]
    if safe_mode:
        at = out.index("run") + 1 if "run" in out else len(out)
        out.insert(at, SAFE_MODE)
    return out


def _reexec(safe_mode: bool) -> None:
    """Become a fresh `midimon run` (the ports are closed: ``stop`` returned)."""
    argv = restart_argv(sys.argv[1:], safe_mode)
    logging.getLogger("midimon").info("restarting%s", " in safe mode" if safe_mode else "")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, sys.argv[0], *argv])
