"""The MIDIMon plan's three config examples (its appendix), verbatim: one copy for every test.

The plan names hosts outside this machine (``api.example.com``, ``192.168.1.100``); tests swap
exactly those for loopback servers and contact nothing.
"""

HTTP = """\
[[modes.mappings]]
description = "Trigger webhook on pad press"

[modes.mappings.trigger]
type = "Note"
note = 1

[modes.mappings.action]
type = "Plugin"
plugin = "http_request"

[modes.mappings.action.params]
url = "https://api.example.com/webhook"
method = "POST"
headers = { "Content-Type" = "application/json", "Authorization" = "Bearer token123" }
body = { event = "pad_pressed", note = 1 }
timeout_ms = 5000
"""
SPOTIFY = """\
[[modes.mappings]]
description = "Play/pause Spotify"

[modes.mappings.trigger]
type = "Note"
note = 2

[modes.mappings.action]
type = "Plugin"
plugin = "spotify"

[modes.mappings.action.params]
action = "play_pause"
"""
HOME_AUTOMATION = """\
[[modes.mappings]]
description = "Turn on lights"

[modes.mappings.trigger]
type = "Note"
note = 3

[modes.mappings.action]
type = "Plugin"
plugin = "home_automation"

[modes.mappings.action.params]
broker = "mqtt://192.168.1.100:1883"
topic = "home/living_room/lights/set"
payload = "ON"
qos = 1
"""
SNIPPETS = {"http_request": HTTP, "spotify": SPOTIFY, "home_automation": HOME_AUTOMATION}
