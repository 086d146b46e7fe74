"""Publish an MQTT message (home automation, lights, scenes)."""

version = "1.0.0"
capabilities = ["network"]
# Your broker and topics: midimon plugins grant mqtt_publish network
#   --scope brokers=192.168.1.10:1883 --scope publish=home/#
params_schema = {
    "type": "object",
    "properties": {
        "topic": {"type": "string", "minLength": 1},
        "payload": {},
        "qos": {"enum": [0, 1, 2], "default": 0},
        "retain": {"type": "boolean", "default": False},
        "include_context": {"type": "boolean", "default": False},
    },
    "required": ["topic"],
    "additionalProperties": False,
}
config_schema = {
    "type": "object",
    "properties": {"broker": {"type": "string", "description": "host:port"}},
    "additionalProperties": False,
}

import json

settings = {}


def initialize(config):
    settings.clear()
    settings.update(config)


def execute(params, context):
    payload = params.get("payload")
    if params.get("include_context") or payload is None:
        payload = {
            "payload": payload,
            "note": context["note"],
            "velocity": context["velocity"],
            "cc": context["cc"],
            "value": context["value"],
            "mode": context["mode"],
        }
    if not isinstance(payload, str):
        payload = json.dumps(payload)
    return mqtt.publish(
        params["topic"], payload, params.get("qos", 0), params.get("retain", False), settings.get("broker")
    )
