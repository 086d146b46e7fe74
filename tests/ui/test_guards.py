"""Every guard of the UI server, against a fake control socket that counts what reached it."""

from __future__ import annotations

import io
import os
import stat
import zipfile

from conftest import MUTATE, ORIGIN, PORT, TOKEN

PLUGIN = b'''"""Says hello."""
version = "1.2.0"
capabilities = ["network"]
scopes = {"hosts": ["http://127.0.0.1:9"]}


def execute(params, context):
    return "hi"
'''


def test_no_token_is_refused_everywhere(anon, daemon):
    for path in ("/", "/index.html", "/api/ui", "/api/events", "/api/export"):
        r = anon.get(path)
        assert r.status_code == 401, path
        assert "midimon ui" in r.json()["error"]["message"]
    r = anon.post("/api/call/plugins.enable", json={"name": "x"}, headers=MUTATE)
    assert r.status_code == 401
    assert daemon.commands() == []


def test_token_is_traded_for_a_strict_httponly_cookie(anon):
    r = anon.get(f"/?token={TOKEN}&view=plugins")
    assert r.status_code == 303
    assert r.headers["location"] == "/?view=plugins"  # the token leaves the address bar
    cookie = r.headers["set-cookie"]
    assert f"midimon_ui_{PORT}={TOKEN}" in cookie
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert anon.get("/api/ui").status_code == 200


def test_a_wrong_token_is_refused(anon):
    r = anon.get("/?token=" + "x" * 43)
    assert r.status_code == 403
    assert "set-cookie" not in r.headers
    assert anon.get("/api/ui").status_code == 401


def test_a_foreign_host_is_refused_even_with_the_cookie(client, daemon):
    for host in ("evil.example", f"evil.example:{PORT}", "127.0.0.1:9999", f"192.0.2.1:{PORT}", "127.0.0.1"):
        r = client.get("/api/ui", headers={"host": host})
        assert r.status_code == 421, host
    r = client.post("/api/call/plugins.enable", json={"name": "x"}, headers={**MUTATE, "host": f"evil.example:{PORT}"})
    assert r.status_code == 421
    assert daemon.commands() == []
    for host in (f"localhost:{PORT}", f"[::1]:{PORT}", f"127.0.0.1:{PORT}"):
        assert client.get("/api/ui", headers={"host": host}).status_code == 200, host


def test_a_foreign_origin_cannot_change_anything(client, daemon):
    daemon.answers["plugins.disable"] = lambda a: {"name": a["name"], "enabled": False}
    for origin in ("http://evil.example", f"http://127.0.0.1:{PORT + 1}", "null", f"https://127.0.0.1:{PORT}"):
        r = client.post("/api/call/plugins.disable", json={"name": "x"}, headers={**MUTATE, "origin": origin})
        assert r.status_code == 403, origin
        assert r.json()["error"]["code"] == "bad_origin"
    r = client.post("/api/call/plugins.disable", json={"name": "x"}, headers={"x-midimon-ui": "1"})
    assert r.status_code == 403  # no Origin at all
    assert daemon.commands() == []
    r = client.post("/api/call/plugins.disable", json={"name": "x"}, headers=MUTATE)
    assert r.status_code == 200 and r.json()["result"] == {"name": "x", "enabled": False}
    assert daemon.commands() == ["plugins.disable"]


def test_streams_refuse_a_foreign_origin(client):
    for path in ("/api/events", "/api/monitor"):
        assert client.get(path, headers={"origin": "http://evil.example"}).status_code == 403
        assert client.get(path, headers={"sec-fetch-site": "cross-site"}).status_code == 403


def test_a_form_forged_post_never_reaches_the_daemon(client, daemon):
    daemon.answers["plugins.enable"] = lambda a: {"enabled": True}
    # what an HTML form can send: a simple content type, no custom header
    r = client.post(
        "/api/call/plugins.enable",
        content=b"name=x",
        headers={"origin": ORIGIN, "content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 403 and r.json()["error"]["code"] == "csrf"
    r = client.post(
        "/api/call/plugins.enable", content=b'{"name": "x"}', headers={"origin": ORIGIN, "content-type": "text/plain"}
    )
    assert r.status_code == 403
    # even with the header, a form body is not taken as arguments
    r = client.post(
        "/api/call/plugins.enable",
        content=b"name=x",
        headers={**MUTATE, "content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 415
    assert daemon.commands() == []


def test_a_forged_multipart_upload_writes_nothing(client, ui_home):
    r = client.post("/api/upload", files={"file": ("hello.py", PLUGIN)}, headers={"origin": ORIGIN})
    assert r.status_code == 403
    assert not (ui_home.runtime / "ui-staging").exists() or not any((ui_home.runtime / "ui-staging").iterdir())


def test_an_oversized_upload_is_refused_and_not_kept(client, ui_home):
    from midimon.engine.ui.staging import MAX_UPLOAD_BYTES

    big = b"#" * (MAX_UPLOAD_BYTES + 1)
    r = client.post("/api/upload", files={"file": ("big.py", big)}, headers=MUTATE)
    assert r.status_code == 413
    staging = ui_home.runtime / "ui-staging"
    assert not staging.exists() or not any(staging.iterdir())


def test_a_path_escaping_zip_is_refused_and_nothing_lands(client, ui_home, tmp_path):
    for member in ("../escaped.py", "/tmp/escaped-abs.py", "a/../../escaped.py"):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as zf:
            zf.writestr(member, PLUGIN)
        r = client.post("/api/upload", files={"file": ("evil.zip", buf.getvalue())}, headers=MUTATE)
        assert r.status_code == 400, member
        assert r.json()["error"]["code"] == "path_escape"
    staging = ui_home.runtime / "ui-staging"
    assert not staging.exists() or not any(staging.iterdir())
    assert not (ui_home.runtime / "escaped.py").exists() and not (tmp_path / "escaped.py").exists()


def test_a_zip_with_a_link_is_refused(client):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("link.py")
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/etc/passwd")
    r = client.post("/api/upload", files={"file": ("evil.zip", buf.getvalue())}, headers=MUTATE)
    assert r.status_code == 400 and r.json()["error"]["code"] == "path_escape"


def test_upload_is_reviewed_then_installed_from_a_private_folder(client, daemon, ui_home):
    r = client.post("/api/upload", files={"file": ("hello.py", PLUGIN)}, headers=MUTATE)
    assert r.status_code == 200, r.text
    review = r.json()["review"]
    assert review["name"] == "hello" and review["version"] == "1.2.0"
    assert review["capabilities"] == {"network": {"hosts": ["http://127.0.0.1:9"]}}
    assert review["signature"]["status"] == "unsigned"
    assert daemon.commands() == []  # the review wrote nothing and asked nothing
    assert not ui_home.plugins.exists()
    staging = ui_home.runtime / "ui-staging"
    assert stat.S_IMODE(os.stat(staging).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(staging / review["id"]).st_mode) == 0o700
    seen: list[str] = []

    def install(args):
        seen.append(open(args["path"], "rb").read().decode())
        return {"installed": "hello"}

    daemon.answers["plugins.install"] = install
    r = client.post("/api/install", json={"id": review["id"], "grants": {}}, headers=MUTATE)
    assert r.status_code == 200, r.text
    assert seen == [PLUGIN.decode()]
    assert daemon.requests[-1]["args"]["path"].startswith(str(staging))
    assert not (staging / review["id"]).exists()  # staged copy removed once installed


def test_install_takes_only_a_staging_id_never_a_path(client, daemon):
    daemon.answers["plugins.install"] = lambda a: {"installed": "x"}
    for bad in ("../../etc", "/etc/passwd", "up-../../x", ""):
        r = client.post("/api/install", json={"id": bad, "path": "/etc/passwd"}, headers=MUTATE)
        assert r.status_code == 404, bad
    assert daemon.commands() == []


def test_only_allow_listed_commands_are_forwarded(client, daemon):
    daemon.answers["stop"] = lambda a: {"stopping": True}
    r = client.post("/api/call/stop", json={}, headers=MUTATE)
    assert r.status_code == 404
    r = client.post("/api/call/plugins.install", json={"path": "/tmp/x.py"}, headers=MUTATE)
    assert r.status_code == 404
    assert daemon.commands() == []


def test_every_answer_carries_the_csp(client, anon):
    for resp in (client.get("/api/ui"), anon.get("/"), anon.get("/?token=bad"), client.get("/")):
        assert resp.headers["content-security-policy"] == "default-src 'self'; frame-ancestors 'none'"
        assert resp.headers["x-frame-options"] == "DENY"


def test_a_daemon_refusal_keeps_its_code_and_fields(client, daemon):
    from fake_daemon import Refuse

    def grant(args):
        raise Refuse("needs_confirmation", "run: midimon plugins grant x subprocess --yes")

    daemon.answers["plugins.grant"] = grant
    r = client.post("/api/call/plugins.grant", json={"name": "x", "capability": "subprocess"}, headers=MUTATE)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "needs_confirmation"
    assert "--yes" in r.json()["error"]["message"]


def test_daemon_down_says_how_to_start_it(client, daemon):
    daemon.close()
    r = client.post("/api/call/plugins.list", json={}, headers=MUTATE)
    assert r.status_code == 503
    assert "midimon run" in r.json()["error"]["message"]
    info = client.get("/api/ui").json()["result"]
    assert info["daemon"]["up"] is False


def test_stale_uploads_are_removed_at_the_next_upload(client, ui_home):
    import time

    from midimon.engine.ui.staging import KEEP_S

    r = client.post("/api/upload", files={"file": ("hello.py", PLUGIN)}, headers=MUTATE)
    old = ui_home.runtime / "ui-staging" / r.json()["review"]["id"]
    past = time.time() - KEEP_S - 10
    os.utime(old, (past, past))
    r = client.post("/api/upload", files={"file": ("hello.py", PLUGIN)}, headers=MUTATE)
    assert r.status_code == 200
    assert not old.exists()
    assert (ui_home.runtime / "ui-staging" / r.json()["review"]["id"]).exists()
