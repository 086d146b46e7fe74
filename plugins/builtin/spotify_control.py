"""Control Spotify playback: play, pause, toggle, next, previous, volume, now playing."""
version = "1.0.0"
capabilities = ["network"]
hosts = ["https://api.spotify.com"]
params_schema = {
    "type": "object",
    "properties": {
        "command": {"enum": ["play", "pause", "toggle", "next", "previous", "volume",
                             "volume_up", "volume_down", "now_playing"]},
        "volume": {"type": "integer", "minimum": 0, "maximum": 100},
        "step": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
        "device_id": {"type": "string"},
    },
    "required": ["command"],
    "additionalProperties": False,
}
config_schema = {
    "type": "object",
    "properties": {
        "access_token": {"type": "string", "secret": True},
        "api_base": {"type": "string", "default": "https://api.spotify.com/v1"},
    },
    "additionalProperties": False,
}

import json

settings = {}


def initialize(config):
    settings.clear()
    settings.update(config)


def api(method, path, query=None):
    token = settings.get("access_token")
    if not token:
        raise RuntimeError("no access token: midimon plugins config spotify_control "
                           "--set access_token=...")
    base = settings.get("api_base", "https://api.spotify.com/v1").rstrip("/")
    response = http.request(method, base + path, params=query,
                            headers={"Authorization": "Bearer " + token})
    if response["status"] >= 400:
        raise RuntimeError("Spotify answered " + str(response["status"]) + " to " + method
                           + " " + path + ": " + response["text"][:200])
    if response["text"]:
        return json.loads(response["text"])
    return None


def device_of(params):
    if params.get("device_id"):
        return {"device_id": params["device_id"]}
    return None


def execute(params, context):
    command = params["command"]
    if command == "toggle":
        playing = api("GET", "/me/player/currently-playing")
        command = "pause" if playing and playing.get("is_playing") else "play"
    if command in ("play", "pause"):
        api("PUT", "/me/player/" + command, device_of(params))
    elif command in ("next", "previous"):
        api("POST", "/me/player/" + command, device_of(params))
    elif command in ("volume", "volume_up", "volume_down"):
        if command == "volume":
            level = params.get("volume")
            if level is None:   # a knob: the CC value 0-127 becomes 0-100 %
                level = round((context.get("value") or 0) * 100 / 127)
        else:
            current = store.get("volume", 50)
            step = params.get("step", 10)
            level = current + step if command == "volume_up" else current - step
        level = max(0, min(100, level))
        store.set("volume", level)
        query = {"volume_percent": level}
        query.update(device_of(params) or {})
        api("PUT", "/me/player/volume", query)
        return level
    playing = api("GET", "/me/player/currently-playing")
    if command == "now_playing" and playing and playing.get("item"):
        item = playing["item"]
        artists = ", ".join(a["name"] for a in item.get("artists", []))
        log.info("now playing:", item["name"], "-", artists)
        return item["name"]
    return command
