"""Send an HTTP request: webhooks, home automation, REST APIs (the plan's http_request).

Params (the plan's names): url, method (GET, POST, PUT, PATCH, DELETE), headers, body (a table
is sent as JSON, a string as it is), form (form-encoded; multipart when a field is
{ file = "PATH" }), timeout_ms, auth ("bearer" or "basic", the secrets taken from the settings).
The event's values go into the url, header values, body and form as {note}, {velocity},
{mode}, {value}... ({{ and }} for literal braces), filled in by midimon, not by this code.
"""

version = "2.0.0"
author = "midimon"
license = "MIT"
homepage = "https://github.com/midimon/midimon/tree/main/plugins/http_request"
capabilities = ["network"]
# The hosts depend on your mappings; `midimon validate` prints the grant command, e.g.
#   midimon plugins grant http_request network --scope hosts=https://api.example.com
params_schema = {
    "type": "object",
    "properties": {
        "url": {"type": "string", "pattern": "^https?://", "description": "where to send the request"},
        "method": {"enum": ["GET", "POST", "PUT", "PATCH", "DELETE"], "default": "POST"},
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "body": {
            "type": ["object", "array", "string", "number", "boolean", "null"],
            "description": "a table is sent as JSON, a string as it is",
        },
        "form": {
            "type": "object",
            "additionalProperties": {
                "anyOf": [
                    {"type": ["string", "number", "boolean"]},
                    {
                        "type": "object",
                        "properties": {
                            "file": {"type": "string"},
                            "filename": {"type": "string"},
                            "content_type": {"type": "string"},
                        },
                        "required": ["file"],
                        "additionalProperties": False,
                    },
                ]
            },
            "description": "form fields; multipart when one is { file = PATH }",
        },
        "timeout_ms": {"type": "integer", "minimum": 100, "maximum": 30000, "default": 5000},
        "auth": {"enum": ["bearer", "basic", "none"], "description": "credentials from the plugin's settings"},
        "include_context": {"type": "boolean", "default": False},
        "json": {"deprecated": True, "description": "'json' is now 'body' (a table is sent as JSON)"},
        "timeout": {
            "type": "number",
            "minimum": 0.1,
            "maximum": 30,
            "deprecated": True,
            "description": "'timeout' (seconds) is now 'timeout_ms' (milliseconds)",
        },
    },
    "required": ["url"],
    "additionalProperties": False,
}
config_schema = {
    "type": "object",
    "properties": {
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
        "token": {"type": "string", "secret": True, "description": "bearer token (auth = 'bearer')"},
        "username": {"type": "string", "description": "user for basic auth (auth = 'basic')"},
        "password": {"type": "string", "secret": True, "description": "password for basic auth"},
    },
    "additionalProperties": False,
}

settings = {}


def initialize(config):
    settings.clear()
    settings.update(config)


def credentials(params, headers):
    """Bearer or basic credentials from the settings; returns the basic pair or None."""
    how = params.get("auth")
    if how is None:  # a token in the settings is used unless the mapping sets its own header
        how = "bearer" if settings.get("token") and "Authorization" not in headers else "none"
    if how == "bearer":
        if not settings.get("token"):
            raise RuntimeError("auth = 'bearer' needs a token: midimon plugins config http_request --set token=...")
        headers["Authorization"] = "Bearer " + settings["token"]
    elif how == "basic":
        if not settings.get("username"):
            raise RuntimeError(
                "auth = 'basic' needs a user and password: "
                "midimon plugins config http_request --set username=... --set password=..."
            )
        return [settings["username"], settings.get("password") or ""]
    return None


def execute(params, context):
    method = params.get("method", "POST")
    headers = dict(settings.get("headers") or {})
    headers.update(params.get("headers") or {})
    basic = credentials(params, headers)
    body = params["body"] if "body" in params else params.get("json")
    if params.get("include_context"):
        body = {"params": body, "context": context}
    timeout_ms = params.get("timeout_ms")
    if timeout_ms is None:
        timeout_ms = params["timeout"] * 1000 if "timeout" in params else 5000
    text = body if isinstance(body, str) else None
    response = http.request(
        method,
        params["url"],
        headers=headers,
        json=None if text is not None or body is None else body,
        data=text,
        form=params.get("form"),
        basic_auth=basic,
        timeout=timeout_ms / 1000,
        values=context,
    )
    if response["status"] >= 400:
        raise RuntimeError(method + " " + response["url"] + " answered " + str(response["status"]))
    return response["status"]
