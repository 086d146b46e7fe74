"""`midimon service install|uninstall`: run midimon at login, restarted if it crashes.

Linux: a systemd user unit (``~/.config/systemd/user/midimon.service``) with
``ExecReload=midimon reload`` and ``Restart=on-failure``. macOS: a launchd agent
(``~/Library/LaunchAgents/io.midimon.daemon.plist``). ``--print`` shows what would be written
and touches nothing.
"""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from midimon.engine.cli import fail, print_json

if TYPE_CHECKING:
    from midimon.config.home import Home

UNIT = "midimon.service"
LABEL = "io.midimon.daemon"


def register(sub) -> None:
    p = sub.add_parser("service", help="install or remove midimon as a login service (systemd / launchd)")
    ssub = p.add_subparsers(dest="service_command", metavar="SUBCOMMAND", required=True)
    for name, helptext in (
        ("install", "write the systemd user unit (Linux) or launchd agent (macOS)"),
        ("uninstall", "stop and remove it"),
    ):
        s = ssub.add_parser(name, help=helptext)
        s.add_argument(
            "--print",
            "--dry-run",
            dest="dry_run",
            action="store_true",
            help="print what would be written or run, change nothing",
        )
        s.add_argument("--platform", choices=("linux", "macos"), help="override the detected platform")
        s.add_argument("--no-start", action="store_true", help="write the file but do not enable or start it")
        s.add_argument("--json", action="store_true", help="print one JSON document")
        if name == "install":
            s.add_argument("--config", metavar="PATH", help="config file the service runs with")
        s.set_defaults(handler=cmd_install if name == "install" else cmd_uninstall)


def _platform(args) -> str:
    if args.platform:
        return args.platform
    return "macos" if sys.platform == "darwin" else "linux"


def _executable() -> str:
    exe = Path(sys.executable).with_name("midimon")
    if exe.exists():
        return str(exe)
    return shutil.which("midimon") or f"{sys.executable} -m midimon.engine"


def _environment(home: Home) -> dict[str, str]:
    # the service runs on this command's home; MIDO_BACKEND (a module name, not a path) picks the MIDI API
    env = {"MIDIMON_HOME": str(home.root)}
    if os.environ.get("MIDO_BACKEND"):
        env["MIDO_BACKEND"] = os.environ["MIDO_BACKEND"]
    return env


def systemd_unit(exe: str, config: str | None, env: dict[str, str]) -> str:
    run = f"{exe} run" + (f" --config {shlex.quote(config)}" if config else "")
    lines = [
        "[Unit]",
        "Description=midimon: MIDI controller as a control surface",
        "After=graphical-session.target sound.target",
        "",
        "[Service]",
        "Type=simple",
        f"ExecStart={run}",
        f"ExecReload={exe} reload",
        "Restart=on-failure",
        "RestartSec=2",
        "TimeoutStopSec=10",
    ]
    lines += [f'Environment="{k}={v}"' for k, v in sorted(env.items())]
    lines += ["", "[Install]", "WantedBy=default.target", ""]
    return "\n".join(lines)


def launchd_plist(exe: str, config: str | None, env: dict[str, str], log_dir: Path) -> str:
    from xml.sax.saxutils import escape  # pulls in urllib and ssl: 40 ms every CLI start paid

    argv = exe.split(" ") + ["run"] + (["--config", config] if config else [])
    args_xml = "\n".join(f"    <string>{escape(a)}</string>" for a in argv)
    env_xml = "".join(f"\n    <key>{escape(k)}</key><string>{escape(v)}</string>" for k, v in sorted(env.items()))
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
  <key>Label</key><string>{LABEL}</string>
  <key>ProgramArguments</key>
  <array>
{args_xml}
  </array>
  <key>RunAtLoad</key><true/>
  <key>KeepAlive</key>
  <dict>
    <key>SuccessfulExit</key><false/>
  </dict>
  <key>ProcessType</key><string>Interactive</string>
  <key>EnvironmentVariables</key>
  <dict>{env_xml}
  </dict>
  <key>StandardOutPath</key><string>{escape(str(log_dir / "midimon.out.log"))}</string>
  <key>StandardErrorPath</key><string>{escape(str(log_dir / "midimon.err.log"))}</string>
</dict>
</plist>
"""


def _target(platform: str) -> Path:
    if platform == "macos":
        return Path.home() / "Library" / "LaunchAgents" / f"{LABEL}.plist"
    # systemd's own search path for user units, not one of midimon's (those are the Home's)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "systemd" / "user" / UNIT


def _commands(platform: str, target: Path, install: bool, start: bool) -> list[list[str]]:
    if platform == "macos":
        uid = str(os.getuid())
        if install:
            return [["launchctl", "bootstrap", f"gui/{uid}", str(target)]] if start else []
        return [["launchctl", "bootout", f"gui/{uid}/{LABEL}"]]
    if install:
        return [["systemctl", "--user", "daemon-reload"]] + (
            [["systemctl", "--user", "enable", "--now", UNIT]] if start else []
        )
    return [["systemctl", "--user", "disable", "--now", UNIT], ["systemctl", "--user", "daemon-reload"]]


def _run_all(cmds: list[list[str]]) -> list[str]:
    problems = []
    for cmd in cmds:
        if shutil.which(cmd[0]) is None:
            problems.append(f"{cmd[0]} is not available; run by hand: {' '.join(cmd)}")
            continue
        import subprocess

        r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        if r.returncode != 0:
            problems.append(f"`{' '.join(cmd)}` failed: {(r.stderr or r.stdout).strip()}")
    return problems


def cmd_install(args) -> int:
    from midimon.config.atomic import write_atomic

    platform = _platform(args)
    exe = _executable()
    config = str(args.home.config.resolve()) if args.config else None
    env = _environment(args.home)
    if platform == "macos":
        text = launchd_plist(exe, config, env, args.home.logs)
    else:
        text = systemd_unit(exe, config, env)
    target = _target(platform)
    cmds = _commands(platform, target, True, not args.no_start)
    if args.dry_run:
        if args.json:
            print_json({"ok": True, "platform": platform, "path": str(target), "text": text, "commands": cmds})
        else:
            print(f"# would write {target}")
            print(text, end="")
            for c in cmds:
                print(f"# would run: {' '.join(c)}")
        return 0
    write_atomic(target, text, 0o644)
    problems = _run_all(cmds)
    if args.json:
        print_json({"ok": not problems, "platform": platform, "path": str(target), "problems": problems})
    else:
        print(f"wrote {target}")
        for p in problems:
            print(f"  note: {p}", file=sys.stderr)
        if not problems and not args.no_start:
            print(
                "midimon now starts at login; `midimon status` shows it, "
                + (
                    "`systemctl --user reload midimon` reloads it."
                    if platform == "linux"
                    else "`midimon reload` reloads it."
                )
            )
    return 1 if problems else 0


def cmd_uninstall(args) -> int:
    platform = _platform(args)
    target = _target(platform)
    cmds = _commands(platform, target, False, True)
    if args.dry_run:
        if args.json:
            print_json(
                {"ok": True, "platform": platform, "path": str(target), "commands": cmds, "exists": target.exists()}
            )
        else:
            for c in cmds:
                print(f"# would run: {' '.join(c)}")
            print(f"# would remove {target}")
        return 0
    if not target.exists():
        return fail(f"no midimon service installed at {target}", as_json=args.json)
    problems = _run_all(cmds[:1])  # stop it while its file still exists
    target.unlink()
    problems += _run_all(cmds[1:])
    if args.json:
        print_json({"ok": True, "platform": platform, "path": str(target), "problems": problems})
    else:
        print(f"removed {target}")
        for p in problems:
            print(f"  note: {p}", file=sys.stderr)
    return 0
