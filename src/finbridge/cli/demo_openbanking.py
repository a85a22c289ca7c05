"""Demo seeding for open banking, through the engine's face: three made-up third-party apps
(two approved, one awaiting an operator), so the app store, the connected-apps page and the
console's approval queue are never empty, and a sandbox app with its developer's sandbox (the
synthetic customers) seeded, so the developer portal shows them. Each app has a made-up logo
(a drawn mark in its own colour, uploaded like a developer's). The approved budgeting app's private
key is written to ``<data_dir>/openbanking-demo-app.json`` so ``examples/thirdparty_app`` can be
run against the demo server as that app. Idempotent: a demo that finds apps seeds nothing."""

from __future__ import annotations

import json
from collections.abc import Callable

from finbridge.core.principal import Principal
from finbridge.platform import Platform

_ACTOR = Principal.system("demo")
APPS = (
    (
        "Budget Buddy",
        "Budget Buddy Ltd",
        "budgeting",
        "Sorts your spending into categories.",
        ["accounts"],
        True,
    ),
    (
        "Tally Books",
        "Tally Software",
        "accounting",
        "Bookkeeping for small shops.",
        ["accounts", "payments"],
        True,
    ),
    (
        "Rent Robot",
        "Rent Robot Inc",
        "payments",
        "Pays your rent every month within limits.",
        ["payments"],
        False,
    ),
)
REDIRECT = "http://127.0.0.1:8765/callback"
# The example app's login initiation URI (``python -m thirdparty_app --connect``): the app
# store's Connect button for the demo's budgeting app.
INITIATE = "http://127.0.0.1:8765/connect"
KEY_FILE = "openbanking-demo-app.json"
_COLOURS = ((11, 92, 173), (17, 99, 41), (164, 14, 38), (87, 96, 106))


def _logo(n: int) -> bytes:
    """A made-up mark: a rounded square in the app's colour with a white ring (no text, so no
    font is needed)."""
    from io import BytesIO

    from PIL import Image, ImageDraw

    image = Image.new("RGBA", (96, 96), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((0, 0, 95, 95), radius=20, fill=_COLOURS[n % len(_COLOURS)])
    draw.ellipse((24, 24, 71, 71), outline=(255, 255, 255), width=10)
    out = BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def seed_openbanking(platform: Platform, say: Callable[[str], None] = lambda _: None) -> str | None:
    """Register the demo apps once; a summary line, or None when apps already exist."""
    from joserfc.jwk import ECKey

    from finbridge.openbanking import AppStatus

    registry = platform.openbanking.apps
    if registry.list(_ACTOR):
        return None
    say("seeding open banking: three third-party apps (two approved, one awaiting approval)")
    for n, (name, developer, category, description, scopes, approve) in enumerate(APPS):
        key = ECKey.generate_key("P-256")
        app = registry.register(
            _ACTOR,
            name=name,
            developer=developer,
            redirect_uris=[REDIRECT],
            jwks={"keys": [key.as_dict(private=False) | {"kid": key.thumbprint()}]},
            scopes=scopes,
            category=category,
            description=description,
            initiate_login_uri=INITIATE if name == APPS[0][0] else None,
        )
        registry.set_logo(_ACTOR, app.client_id, _logo(n))
        if approve:
            registry.decide(_ACTOR, app.client_id, AppStatus.APPROVED)
        if name == APPS[0][0]:
            path = platform.settings.data_dir / KEY_FILE
            path.parent.mkdir(parents=True, exist_ok=True)
            secret = {
                "client_id": app.client_id,
                "redirect_uri": REDIRECT,
                "key": key.as_dict(private=True) | {"kid": key.thumbprint()},
            }
            path.write_text(json.dumps(secret), encoding="utf-8")
            path.chmod(0o600)
    key = ECKey.generate_key("P-256")
    sketch = registry.register(
        _ACTOR, name="Sandbox Sketch", developer="Budget Buddy Ltd", redirect_uris=[REDIRECT],
        jwks={"keys": [key.as_dict(private=False) | {"kid": key.thumbprint()}]},
        scopes=["accounts"], category="budgeting", description="Budget Buddy's sandbox twin.",
        sandbox=True,
    )  # fmt: skip
    registry.set_logo(_ACTOR, sketch.client_id, _logo(len(APPS)))
    postings = platform.openbanking.sandbox.seed(sketch.owner_id or _ACTOR.id)  # its developer's
    approved = sum(a[5] for a in APPS)
    return (
        f"{len(APPS)} open-banking apps ({approved} approved), a sandbox app ({postings} postings)"
    )
