"""A fake of Home Assistant's REST API: ``POST /api/services/<domain>/<service>`` with a bearer
long-lived token, answering like Home Assistant (200 and the changed states) and keeping the
entities' states so a test sees the effect of ``light.toggle``."""

from __future__ import annotations

import json
from typing import Any

from .base import Answer, FakeServer


class FakeHomeAssistant(FakeServer):
    def __init__(self, token: str = "ha-long-lived-token") -> None:
        self.token = token
        self.states: dict[str, str] = {"light.living_room": "off"}
        self.calls: list[tuple[str, str, dict[str, Any]]] = []
        super().__init__()

    def route(self, method: str, path: str, headers: dict[str, str], body: str) -> Answer:
        if headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"message": "401: Unauthorized"}, {}
        parts = path.strip("/").split("/")
        if method == "POST" and len(parts) == 4 and parts[:2] == ["api", "services"]:
            domain, service = parts[2], parts[3]
            data = json.loads(body or "{}")
            self.calls.append((domain, service, data))
            entities = data.get("entity_id", [])
            entities = [entities] if isinstance(entities, str) else entities
            changed = []
            for entity in entities:
                old = self.states.get(entity, "off")
                new = {"turn_on": "on", "turn_off": "off", "toggle": "off" if old == "on" else "on"}.get(service, old)
                self.states[entity] = new
                changed.append({"entity_id": entity, "state": new})
            return 200, changed, {}
        return 404, {"message": "not found"}, {}
