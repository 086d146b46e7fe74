"""Send an HTTP request (webhooks, home automation, REST APIs)."""

version = "1.0.0"
capabilities = ["network"]
# The hosts depend on your mappings: grant them with
#   midimon plugins grant http_request network --scope hosts=https://hooks.example.com
params_schema = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "pattern": "^https?://"},
        "method": {"enum": ["GET", "POST", "PUT", "DELETE"], "default": "POST"},
        "json": {},
        "body": {"type": "string"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "timeout": {"type": "number", "minimum": 0.1, "maximum": 30},
        "include_context": {"type": "boolean", "default": False},
    },
    "required": ["url"],
    "additionalProperties": False,
}
config_schema = {
    "type": "object",
    "properties": {
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "token": {"type": "string", "secret": True},
    },
    "additionalProperties": False,
}

settings = {}


def initialize(config):
    settings.clear()
    settings.update(config)


def execute(params, context):
    headers = dict(settings.get("headers") or {})
    if settings.get("token"):
        headers["Authorization"] = "Bearer " + settings["token"]
    headers.update(params.get("headers") or {})
    payload = params.get("json")
    if params.get("include_context"):
        payload = {"params": payload, "context": context}
    method = params.get("method", "POST")
    response = http.request(
        method, params["url"], headers=headers, json=payload, data=params.get("body"), timeout=params.get("timeout")
    )
    if response["status"] >= 400:
        raise RuntimeError(method + " " + params["url"] + " answered " + str(response["status"]))
    return response["status"]
