"""Control Spotify: play/pause, next, previous, volume, playlists, what is playing (the plan's spotify).

Sign in once with `midimon plugins auth spotify` (docs/spotify-auth.md): midimon keeps the
refresh token and renews the access token itself; this plugin never sees either.
"""

version = "2.0.0"
author = "midimon"
license = "MIT"
homepage = "https://github.com/midimon/midimon/tree/main/plugins/spotify"
capabilities = ["network"]
# The Web API, and the accounts service that renews the sign-in.
hosts = ["https://api.spotify.com", "https://accounts.spotify.com"]
params_schema = {
    "type": "object",
    "properties": {
        "action": {
            "enum": [
                "play_pause",
                "play",
                "pause",
                "next",
                "previous",
                "volume",
                "volume_up",
                "volume_down",
                "play_playlist",
                "now_playing",
            ]
        },
        "volume": {"type": "integer", "minimum": 0, "maximum": 100, "description": "leave out to follow a knob"},
        "step": {"type": "integer", "minimum": 1, "maximum": 100, "default": 10},
        "playlist": {"type": "string", "minLength": 1, "description": "a spotify: URI or the name of one of yours"},
        "uri": {"type": "string", "pattern": "^spotify:"},
        "device_id": {"type": "string"},
        "command": {
            "enum": [
                "play",
                "pause",
                "toggle",
                "next",
                "previous",
                "volume",
                "volume_up",
                "volume_down",
                "now_playing",
            ],
            "deprecated": True,
            "description": "'command' is now 'action' (and 'toggle' is 'play_pause')",
        },
    },
    "anyOf": [{"required": ["action"]}, {"required": ["command"]}],
    "additionalProperties": False,
}
config_schema = {
    "type": "object",
    "properties": {
        "client_id": {"type": "string", "description": "your Spotify app's client id (docs/spotify-auth.md)"},
        "device_id": {"type": "string", "description": "the device to control (default: the active one)"},
        "api_base": {"type": "string", "default": "https://api.spotify.com/v1", "x-midimon-scope": "hosts"},
        "accounts_base": {"type": "string", "default": "https://accounts.spotify.com", "x-midimon-scope": "hosts"},
        "access_token": {
            "type": "string",
            "secret": True,
            "description": "deprecated: expires within the hour; use midimon plugins auth spotify",
        },
    },
    "additionalProperties": False,
}

settings = {}


def initialize(config):
    settings.clear()
    settings.update(config)
    # The daemon keeps the bases and the client id for this plugin (the tokens are its own).
    spotify.configure(
        config.get("access_token"), config.get("api_base"), config.get("accounts_base"), config.get("client_id")
    )


def action_of(params):
    if "action" in params:
        return params["action"]
    command = params["command"]
    return "play_pause" if command == "toggle" else command


def current_volume(device):
    for d in spotify.devices():
        if (d["id"] == device if device else d["is_active"]) and d["volume_percent"] is not None:
            return d["volume_percent"]
    return store.get("volume", 50)


def find_playlist(wanted):
    if wanted.startswith("spotify:"):
        return wanted
    folded = wanted.strip().lower()
    for playlist in spotify.playlists():
        if (playlist["name"] or "").strip().lower() == folded:
            return playlist["uri"]
    raise RuntimeError("no playlist named " + repr(wanted) + " among yours (give its spotify: URI instead)")


def execute(params, context):
    action = action_of(params)
    device = params.get("device_id") or settings.get("device_id")
    if action == "play_pause":
        now = spotify.current()
        action = "pause" if now and now["is_playing"] else "play"
    if action == "play":
        spotify.play(params.get("uri"), device)
    elif action == "pause":
        spotify.pause(device)
    elif action == "next":
        spotify.next(device)
    elif action == "previous":
        spotify.previous(device)
    elif action == "play_playlist":
        if not params.get("playlist"):
            raise RuntimeError("action 'play_playlist' needs playlist = a spotify: URI or a playlist name")
        uri = find_playlist(params["playlist"])
        spotify.play(uri, device)
        return uri
    elif action in ("volume", "volume_up", "volume_down"):
        if action == "volume":
            level = params.get("volume")
            if level is None:  # a knob: the CC value 0-127 becomes 0-100 %
                level = round((context.get("value") or 0) * 100 / 127)
        else:
            step = params.get("step", 10)
            current = current_volume(device)
            level = current + step if action == "volume_up" else current - step
        level = max(0, min(100, level))
        spotify.volume(level, device)
        store.set("volume", level)
        return level
    elif action == "now_playing":
        now = spotify.now_playing()
        if now and now["item"]:
            item = now["item"]
            log.info("now playing:", item["name"], "-", ", ".join(item["artists"]))
            return item["name"]
        log.info("nothing is playing")
        return None
    return action
