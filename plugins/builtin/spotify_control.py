"""Control Spotify playback: play, pause, toggle, next, previous, volume, now playing."""

version = "1.1.0"
capabilities = ["network"]
hosts = ["https://api.spotify.com"]
params_schema = {
    "type": "object",
    "properties": {
        "command": {
            "enum": ["play", "pause", "toggle", "next", "previous", "volume", "volume_up", "volume_down", "now_playing"]
        },
        "volume": {"type": "integer", "minimum": 0, "maximum": 100},
        "step": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
        "device_id": {"type": "string"},
        "uri": {"type": "string", "pattern": "^spotify:"},
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

NO_TOKEN = "no access token: midimon plugins config spotify_control --set access_token=..."


def initialize(config):
    # The daemon keeps the token and API base for this plugin (also across worker restarts)
    # and makes the requests with spotipy; the API base must be in the granted hosts.
    spotify.configure(config.get("access_token"), config.get("api_base"))


def execute(params, context):
    try:
        return run(params, context)
    except CapabilityError as exc:
        if "no access token" in str(exc):
            raise RuntimeError(NO_TOKEN) from None
        raise


def run(params, context):
    command = params["command"]
    device = params.get("device_id")
    if command == "toggle":
        now = spotify.current()
        command = "pause" if now and now["is_playing"] else "play"
    if command == "play":
        spotify.play(params.get("uri"), device)
    elif command == "pause":
        spotify.pause(device)
    elif command == "next":
        spotify.next(device)
    elif command == "previous":
        spotify.previous(device)
    elif command in ("volume", "volume_up", "volume_down"):
        if command == "volume":
            level = params.get("volume")
            if level is None:  # a knob: the CC value 0-127 becomes 0-100 %
                level = round((context.get("value") or 0) * 100 / 127)
        else:
            current = store.get("volume", 50)
            step = params.get("step", 10)
            level = current + step if command == "volume_up" else current - step
        level = max(0, min(100, level))
        spotify.volume(level, device)
        store.set("volume", level)
        return level
    elif command == "now_playing":
        now = spotify.current()
        if now and now["item"]:
            item = now["item"]
            log.info("now playing:", item["name"], "-", ", ".join(item["artists"]))
            return item["name"]
        return None
    return command
