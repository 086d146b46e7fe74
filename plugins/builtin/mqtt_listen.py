"""Turn MQTT messages into events that fire mappings (buttons, sensors, other apps)."""

version = "1.0.0"
capabilities = ["network"]
poll_interval_ms = 50
# midimon plugins config mqtt_listen --set broker=127.0.0.1:1883 --set 'topics=["home/#"]'
# midimon plugins grant mqtt_listen network --scope brokers=127.0.0.1:1883 --scope subscribe=home/#
config_schema = {
    "type": "object",
    "properties": {
        "broker": {"type": "string", "description": "host:port"},
        "topics": {"type": "array", "items": {"type": "string"}, "default": ["midimon/#"]},
    },
    "additionalProperties": False,
}

import json

settings = {}


def initialize(config):
    settings.clear()
    settings.update(config)
    for topic in settings.get("topics", ["midimon/#"]):
        mqtt.subscribe(topic, 0, settings.get("broker"))


def poll_events():
    events = []
    for message in mqtt.messages(100):
        data = {"topic": message["topic"], "payload": message["payload"]}
        try:
            data["value"] = json.loads(message["payload"])
        except ValueError:
            data["value"] = message["payload"]
        events.append({"event": "message", "data": data})
    return events
