"""App logos: a PNG or JPEG is re-drawn by Pillow (metadata and trailing bytes gone, at most
256 pixels a side) and served from our origin as a plain PNG; bad files are refused naming the
field and leave the previous logo; the store and the consent screen show it; who may fetch it
follows who may see the app; the developer portal uploads it."""

from __future__ import annotations

import io
import json
import os

import pytest
from fastapi.testclient import TestClient
from PIL import Image, PngImagePlugin
from sqlalchemy import Engine
from tests.api.conftest import issue_key
from tests.openbanking.conftest import ACCOUNT_ACCESS, SYSTEM, Customer, make_app, sign_in
from tests.openbanking.test_portal import HX, _form
from tests.web.conftest import log_in

from finbridge.core import ManualClock, Role
from finbridge.core.errors import PayloadTooLarge, ValidationError
from finbridge.openbanking.apps import AppRegistry
from finbridge.openbanking.logos import MAX_SIDE, clean_logo
from finbridge.platform import Platform


def _jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (600, 300), (200, 30, 30))
    exif = Image.Exif()
    exif[0x010F] = "SpyCam Inc"  # Make
    exif[0x8825] = {1: "N", 2: (39.0, 54.0, 0.0)}  # GPS: where the developer's office is
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, comment=b"secret comment", quality=90)
    return out.getvalue()


def _png(size: tuple[int, int] = (64, 64), *, text: str | None = None) -> bytes:
    image = Image.new("RGBA", size, (20, 120, 200, 255))
    info = PngImagePlugin.PngInfo()
    if text is not None:
        info.add_text("Comment", text)
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info)
    return out.getvalue()


def test_a_logo_is_redrawn_without_metadata_or_smuggled_bytes() -> None:
    jpeg = _jpeg_with_gps()
    assert b"SpyCam" in jpeg and b"secret comment" in jpeg
    clean = clean_logo(jpeg)
    assert clean.png.startswith(b"\x89PNG") and (clean.width, clean.height) == (MAX_SIDE, 128)
    for leaked in (b"SpyCam", b"secret comment", b"Exif", b"eXIf", b"tEXt", b"iCCP"):
        assert leaked not in clean.png
    redrawn = Image.open(io.BytesIO(clean.png))
    assert redrawn.format == "PNG" and not redrawn.getexif() and "comment" not in redrawn.info
    assert redrawn.convert("RGB").getpixel((10, 10))[0] > 180  # the picture itself survives

    polyglot = _png(text="<svg onload=alert(1)>") + b"<script>alert(document.cookie)</script>"
    clean = clean_logo(polyglot)
    assert b"script" not in clean.png and b"svg" not in clean.png and b"tEXt" not in clean.png


def test_bad_files_are_refused_naming_the_logo() -> None:
    gif = io.BytesIO()
    Image.new("RGB", (64, 64)).save(gif, "GIF")
    huge = io.BytesIO()
    Image.new("1", (5000, 5000)).save(huge, "PNG")  # tiny on disk, 25 megapixels decoded
    cases = {
        "gif": gif.getvalue(),
        "svg": b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>',
        "truncated": _png((256, 256))[:200],
        "too many pixels": huge.getvalue(),
        "too small": _png((8, 8)),
        "empty": b"",
    }
    for name, data in cases.items():
        with pytest.raises(ValidationError) as info:
            clean_logo(data)
        assert info.value.field == "logo", name
    with pytest.raises(PayloadTooLarge):
        clean_logo(b"\x89PNG\r\n\x1a\n" + os.urandom(600 * 1024))


def test_the_store_and_the_consent_screen_show_the_logo_from_our_origin(
    platform: Platform, client: TestClient, clock: ManualClock, zhang: Customer
) -> None:
    tpp = make_app(platform, TestClient(client.app), clock)
    pending = make_app(platform, TestClient(client.app), clock, name="Pending", approve=False)
    apps = platform.openbanking.apps
    logo = apps.set_logo(SYSTEM, tpp.client_id, _jpeg_with_gps()).logo
    apps.set_logo(SYSTEM, pending.client_id, _png())
    assert logo is not None

    sign_in(client, clock, zhang)
    src = f"/app/openbanking/apps/{tpp.client_id}/logo?v={logo[:12]}"
    assert f'src="{src}"' in client.get("/app/openbanking").text
    served = client.get(src)
    assert served.status_code == 200 and served.content.startswith(b"\x89PNG")
    assert served.headers["content-type"] == "image/png"
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]
    # An app the customer may not see (pending approval) has no logo for them.
    assert client.get(f"/app/openbanking/apps/{pending.client_id}/logo").status_code == 404

    url, _ = tpp.push(ACCOUNT_ACCESS, state="s")
    assert f'src="{src}"' in client.get(url).text  # the consent screen

    # A bad upload is refused and the previous logo stays.
    with pytest.raises(ValidationError):
        apps.set_logo(SYSTEM, tpp.client_id, b"GIF89a not really")
    assert client.get(src).content == served.content


def test_developers_upload_their_own_apps_logos_only(
    platform: Platform, client: TestClient
) -> None:
    dev_a, dev_b = (issue_key(platform, [Role.PARTNER], n) for n in ("dev a", "dev b"))
    api = TestClient(client.app)
    body = _form("Alpha") | {"redirect_uris": ["https://alpha.example/cb"]}
    body["jwks"] = json.loads(str(body["jwks"]))
    alpha = api.post("/v1/openbanking/apps", headers={"X-API-Key": dev_a},
                     json=body).json()["client_id"]  # fmt: skip
    put = api.put(f"/v1/openbanking/apps/{alpha}/logo", headers={"X-API-Key": dev_a},
                  content=_png((300, 300)))  # fmt: skip
    assert put.status_code == 200 and put.json()["logo_url"].startswith(
        f"/v1/openbanking/apps/{alpha}/logo?v="
    )
    fetched = api.get(put.json()["logo_url"], headers={"X-API-Key": dev_a})
    assert Image.open(io.BytesIO(fetched.content)).size == (MAX_SIDE, MAX_SIDE)
    # Another developer cannot replace it, nor see it while the app is pending.
    other = api.put(f"/v1/openbanking/apps/{alpha}/logo", headers={"X-API-Key": dev_b},
                    content=_png())  # fmt: skip
    assert other.status_code == 404
    assert (
        api.get(f"/v1/openbanking/apps/{alpha}/logo", headers={"X-API-Key": dev_b}).status_code
        == 404
    )
    bad = api.put(f"/v1/openbanking/apps/{alpha}/logo", headers={"X-API-Key": dev_a},
                  content=b"<svg/>")  # fmt: skip
    assert bad.status_code == 422 and bad.json()["field"] == "logo"

    # The portal: the upload form answers with the row, showing the logo or why it was refused.
    log_in(client, dev_a)
    row = client.post(f"/console/developers/apps/{alpha}/logo", headers=HX,
                      files={"logo": ("logo.png", _png(), "image/png")})  # fmt: skip
    assert row.status_code == 200 and f"/console/developers/apps/{alpha}/logo?v=" in row.text
    refused = client.post(f"/console/developers/apps/{alpha}/logo", headers=HX,
                          files={"logo": ("logo.gif", b"GIF89a", "image/gif")})  # fmt: skip
    assert refused.status_code == 200 and "PNG or JPEG" in refused.text
    logo_src = row.text.split('src="')[1].split('"')[0]
    assert client.get(logo_src).headers["content-type"] == "image/png"


def test_a_logo_is_stored_and_read_back_on_both_databases(
    engine: Engine, clock: ManualClock
) -> None:
    apps = AppRegistry(engine, clock, production=False)
    app = apps.register(SYSTEM, name="Both", developer="Both Ltd", scopes=["accounts"],
                        redirect_uris=["https://both.example/cb"],
                        jwks_uri="https://keys.both.example/jwks")  # fmt: skip
    stored = apps.set_logo(SYSTEM, app.client_id, _jpeg_with_gps())
    png, sha = apps.logo(SYSTEM, app.client_id)
    assert stored.logo == sha and png.startswith(b"\x89PNG") and b"SpyCam" not in png
    again = apps.set_logo(SYSTEM, app.client_id, _png())  # replaced, one row per app
    assert apps.logo(SYSTEM, app.client_id)[1] == again.logo != sha
    found = apps.find(app.client_id)
    assert found is not None and found.jwks_uri == "https://keys.both.example/jwks"
