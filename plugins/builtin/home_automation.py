"""Home automation: publish MQTT messages, call Home Assistant services, fire HA device triggers.

MQTT (the plan's params): broker (mqtt://host:1883, mqtts://host:8883 or host:port; or the
`broker` setting), topic, payload (a string, or a table sent as JSON), qos 0/1/2, retain.
Home Assistant: service = "light.toggle" with entity_id (and data) calls its REST API with the
long-lived token from the settings; with the setting discovery = true, each entry of ha_triggers
becomes a device trigger in Home Assistant, fired by params = { ha_trigger = "button_1" }.
"""

version = "2.0.0"
author = "midimon"
license = "MIT"
homepage = "https://github.com/midimon/midimon/tree/main/plugins/home_automation"
capabilities = ["network"]
# Your broker, topics and Home Assistant: `midimon validate` prints the grant command, e.g.
#   midimon plugins grant home_automation network --scope brokers=mqtt://192.168.1.100:1883
#     --scope publish=home/#
params_schema = {
    "type": "object",
    "properties": {
        "broker": {"type": "string", "description": "mqtt://host:1883, mqtts://host:8883 or host:port"},
        "topic": {"type": "string", "minLength": 1},
        "payload": {"description": "a string, or a table sent as JSON"},
        "qos": {"enum": [0, 1, 2], "default": 0},
        "retain": {"type": "boolean", "default": False},
        "include_context": {"type": "boolean", "default": False},
        "service": {"type": "string", "pattern": "^[a-z0-9_]+\\.[a-z0-9_]+$", "description": "e.g. light.toggle"},
        "entity_id": {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]},
        "data": {"type": "object", "description": "more service data (brightness_pct = 50, ...)"},
        "ha_trigger": {
            "type": "string",
            "minLength": 1,
            "description": "the subtype of one of ha_triggers",
            # what a mapping with it publishes to (midimon validate prints the grant): the
            # discovery configs, the availability and the trigger messages
            "x-midimon-publish": ["{discovery_prefix}/device_automation/{node_id}/#", "midimon/{node_id}/#"],
        },
    },
    "oneOf": [{"required": ["topic"]}, {"required": ["service"]}, {"required": ["ha_trigger"]}],
    "additionalProperties": False,
}
config_schema = {
    "type": "object",
    "properties": {
        "broker": {
            "type": "string",
            "description": "the broker when the params name none",
            "x-midimon-unless": "service",
        },
        "username": {"type": "string"},
        "password": {"type": "string", "secret": True},
        "ca_file": {"type": "string", "description": "CA (PEM) for mqtts://, in the plugin's data folder or granted"},
        "ha_url": {
            "type": "string",
            "description": "Home Assistant, e.g. http://homeassistant.local:8123",
            "x-midimon-scope": "hosts",
            "x-midimon-when": "service",
        },
        "ha_token": {"type": "string", "secret": True, "description": "a long-lived access token"},
        "discovery": {"type": "boolean", "default": False},
        "discovery_prefix": {"type": "string", "default": "homeassistant"},
        "node_id": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$", "default": "midimon"},
        "device_name": {"type": "string", "default": "midimon controller"},
        "ha_triggers": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "subtype": {"type": "string", "pattern": "^[A-Za-z0-9_-]+$"},
                    "type": {"type": "string", "default": "button_short_press"},
                },
                "required": ["subtype"],
                "additionalProperties": False,
            },
            "default": [],
        },
    },
    "additionalProperties": False,
}

import json

settings = {}
state = {"announced": False, "configured": []}


def initialize(config):
    settings.clear()
    settings.update(config)
    state["announced"] = False
    state["configured"] = []


def connect_options(broker):
    """Credentials, CA and (with discovery) the last will, once per broker, before its first use."""
    if broker is None or broker in state["configured"]:
        return
    will = availability_topic() if settings.get("discovery") else None
    mqtt.configure(broker, settings.get("username"), settings.get("password"), settings.get("ca_file"), will)
    state["configured"].append(broker)


def base_topic():
    return "midimon/" + settings.get("node_id", "midimon")


def availability_topic():
    return base_topic() + "/availability"


def trigger_topic(subtype):
    return base_topic() + "/triggers/" + subtype


def triggers():
    out = {}
    for entry in settings.get("ha_triggers") or []:
        out[entry["subtype"]] = entry.get("type", "button_short_press")
    return out


def announce(broker):
    """Home Assistant MQTT discovery: one retained device trigger config per ha_triggers entry,
    and the availability topic ("online" now, "offline" by the broker's last will)."""
    node = settings.get("node_id", "midimon")
    prefix = settings.get("discovery_prefix", "homeassistant")
    device = {
        "identifiers": ["midimon_" + node],
        "name": settings.get("device_name", "midimon controller"),
        "manufacturer": "midimon",
        "model": "MIDI controller",
    }
    mqtt.publish(availability_topic(), "online", 1, True, broker)
    for subtype, kind in triggers().items():
        config = {
            "automation_type": "trigger",
            "type": kind,
            "subtype": subtype,
            "topic": trigger_topic(subtype),
            "payload": kind,
            "qos": 1,
            "device": device,
        }
        mqtt.publish(
            prefix + "/device_automation/" + node + "/" + subtype + "/config", json.dumps(config), 1, True, broker
        )
    state["announced"] = True
    state["announced_on"] = broker


def fire_trigger(params, broker):
    subtype = params["ha_trigger"]
    kinds = triggers()
    if subtype not in kinds:
        raise RuntimeError(
            "ha_trigger "
            + repr(subtype)
            + " is not in the ha_triggers setting (known: "
            + ", ".join(sorted(kinds))
            + ")"
        )
    if not settings.get("discovery"):
        raise RuntimeError("ha_trigger needs discovery: midimon plugins config home_automation --set discovery=true")
    if not state["announced"]:
        announce(broker)
    return mqtt.publish(trigger_topic(subtype), kinds[subtype], 1, False, broker)


def call_service(params):
    url = (settings.get("ha_url") or "").rstrip("/")
    if not url or not settings.get("ha_token"):
        raise RuntimeError(
            "a Home Assistant service call needs ha_url and ha_token: midimon plugins config home_automation "
            "--set ha_url=http://homeassistant.local:8123 --set ha_token=..."
        )
    domain, service = params["service"].split(".", 1)
    data = dict(params.get("data") or {})
    if "entity_id" in params:
        data["entity_id"] = params["entity_id"]
    response = http.post(
        url + "/api/services/" + domain + "/" + service,
        json=data,
        headers={"Authorization": "Bearer " + settings["ha_token"], "Content-Type": "application/json"},
    )
    if response["status"] >= 400:
        raise RuntimeError("Home Assistant answered " + str(response["status"]) + " to " + params["service"])
    return response["status"]


def shutdown():
    # a clean stop says so at once (a crash leaves it to the broker's last will)
    if state["announced"]:
        mqtt.publish(availability_topic(), "offline", 1, True, state["announced_on"])


def execute(params, context):
    if "service" in params:
        return call_service(params)
    broker = params.get("broker") or settings.get("broker")
    connect_options(broker)
    if "ha_trigger" in params:
        return fire_trigger(params, broker)
    if settings.get("discovery") and not state["announced"]:
        announce(broker)
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
    return mqtt.publish(params["topic"], payload, params.get("qos", 0), params.get("retain", False), broker)
