#!/usr/bin/env python3
"""MQTT benchmark (issue 11, point 2): a press -> the message seen by a subscriber.

    .venv/bin/python benchmarks/bench_mqtt.py [--quick]

The press is the Plugin action's call: the first-party ``home_automation`` plugin runs in its
real sandbox worker, asks the host's ``mqtt`` capability to publish (the grant checked, the
audit written), the host's paho client sends to a private mosquitto on loopback (started here
and stopped by PID), and a separate paho subscriber receives it. Each sample is the time from
just before the call to the subscriber's ``on_message``. Measured for QoS 0 and QoS 1, with
TCP_NODELAY (what midimon does) and with Nagle left on (paho's default, for comparison), and
against a bare paho publish -> subscriber in the same run (the transport alone). The rounds
alternate so every case sees the same machine. Writes benchmarks/results/mqtt.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import machine, ms, write_results

ROOT = Path(__file__).resolve().parent
TOPIC = "bench/press"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_mosquitto(folder: Path) -> tuple[subprocess.Popen[bytes], int]:
    binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    port = free_port()
    conf = folder / "mosquitto.conf"
    # set_tcp_nodelay: the broker's own sockets without Nagle, so the figures show the publisher's
    # side (mosquitto leaves Nagle on by default; see docs/performance.md "## MQTT")
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\nset_tcp_nodelay true\n")
    proc = subprocess.Popen([binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("mosquitto did not start")


class Receiver:
    """A subscriber that hands each arrival time to the waiting sample."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as paho

        self.arrived = threading.Event()
        self.at = 0.0
        self.client = paho.Client(callback_api_version=paho.CallbackAPIVersion.VERSION2, client_id=f"b-{uuid.uuid4()}")
        self.client.on_message = self._on_message
        subscribed = threading.Event()
        self.client.on_subscribe = lambda *a: subscribed.set()
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        self.client.subscribe(TOPIC + "/#", qos=1)
        subscribed.wait(5)
        # the subscriber's own socket without Nagle, so only the publisher's side differs
        self.client.socket().setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _on_message(self, *args: Any) -> None:
        self.at = time.perf_counter()
        self.arrived.set()

    def timed(self, send: Any) -> float:
        self.arrived.clear()
        t0 = time.perf_counter()
        send()
        if not self.arrived.wait(5):
            raise RuntimeError("the message did not arrive")
        return self.at - t0

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def plugin_host(home: Path, port: int) -> Any:
    from midimon.plugins import discovery
    from midimon.sandbox import AuditLog, Grants, Limits, PluginHost

    found, _ = discovery.scan(home / "plugins")
    verified = discovery.read(found["home_automation"])
    grants = Grants.from_dict(
        {"capabilities": ["network"], "allow": {"brokers": [f"127.0.0.1:{port}"], "publish": [TOPIC + "/#"]}}
    )
    host = PluginHost(
        "home_automation",
        verified.source,
        verified.filename,
        grants=grants,
        limits=Limits(call_timeout=5.0),
        data_dir=home / "plugins-data" / "home_automation",
        audit=AuditLog(home / "logs" / "audit.jsonl"),
    )
    host.start()
    host.call("initialize", {"broker": f"mqtt://127.0.0.1:{port}"})
    return host


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rounds = 40 if args.quick else 300
    from midimon.sandbox import prepare
    from midimon.sandbox.capabilities import mqtt_options

    prepare()
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory(prefix="midimon-bench-mqtt-") as tmp:
        folder = Path(tmp)
        (folder / "home" / "plugins").mkdir(parents=True)
        proc, port = start_mosquitto(folder)
        receiver = Receiver(port)
        try:
            real_nodelay = mqtt_options.set_nodelay
            hosts = {}
            for nagle in (False, True):
                # the capability's connection is made in this process: with Nagle left on, its
                # socket option is simply not set (the same paho client otherwise)
                mqtt_options.set_nodelay = (lambda client: None) if nagle else real_nodelay
                import midimon.sandbox.capabilities.mqtt as mqtt_cap

                mqtt_cap.set_nodelay = mqtt_options.set_nodelay
                hosts[nagle] = plugin_host(folder / "home", port)
                for qos in (0, 1):  # connect before timing
                    hosts[nagle].call("execute", {"topic": f"{TOPIC}/warm", "payload": "x", "qos": qos}, {})
            mqtt_options.set_nodelay = real_nodelay
            mqtt_cap.set_nodelay = real_nodelay

            import paho.mqtt.client as paho

            bare = paho.Client(callback_api_version=paho.CallbackAPIVersion.VERSION2, client_id=f"bare-{uuid.uuid4()}")
            bare.connect("127.0.0.1", port)
            bare.loop_start()
            real_nodelay(bare)
            time.sleep(0.3)
            cases = {
                "press_qos0_nodelay": lambda: hosts[False].call(
                    "execute", {"topic": TOPIC + "/a", "payload": "ON"}, {}
                ),
                "press_qos1_nodelay": lambda: hosts[False].call(
                    "execute", {"topic": TOPIC + "/a", "payload": "ON", "qos": 1}, {}
                ),
                "press_qos0_nagle": lambda: hosts[True].call("execute", {"topic": TOPIC + "/b", "payload": "ON"}, {}),
                "press_qos1_nagle": lambda: hosts[True].call(
                    "execute", {"topic": TOPIC + "/b", "payload": "ON", "qos": 1}, {}
                ),
                "bare_paho_qos0": lambda: bare.publish(TOPIC + "/c", b"ON", qos=0),
            }
            for name in cases:
                results[name] = []
            for _ in range(rounds):
                for name, send in cases.items():
                    results[name].append(receiver.timed(send))
                    time.sleep(0.002)
            bare.disconnect()
            bare.loop_stop()
            for host in hosts.values():
                host.stop()
        finally:
            receiver.close()
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(5)
    out = {"machine": machine(), "rounds": rounds, "cases": {k: ms(v) for k, v in results.items()}}
    for name, row in out["cases"].items():
        print(f"{name:<22} median {row['median_ms']:8.3f} ms   p99 {row['p99_ms']:8.3f} ms")
    write_results(ROOT / "results" / "mqtt.json", out)


if __name__ == "__main__":
    main()
