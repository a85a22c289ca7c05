// Passkeys in the console: WebAuthn ceremonies for the customer login page and the status page.
// No inline script (the CSP forbids it): buttons carry data attributes, this file handles clicks.
(function () {
  "use strict";

  function toBuf(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var bin = atob(s), out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  function toB64u(buf) {
    var bytes = new Uint8Array(buf), s = "";
    for (var i = 0; i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function post(url, body) {
    // HX-Request satisfies the console's CSRF guard; the session cookie is SameSite=Strict.
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "HX-Request": "true" },
      body: JSON.stringify(body || {}),
    });
  }

  function fail(message) {
    var p = document.getElementById("passkey-error");
    if (p) { p.textContent = message; p.hidden = false; }
  }

  function descriptors(list) {
    return (list || []).map(function (c) { return { type: c.type, id: toBuf(c.id) }; });
  }

  async function login(button) {
    var challenge = button.dataset.challenge;
    var r = await post("/v1/identity/login/passkey/options", { challenge: challenge });
    if (!r.ok) return fail("No passkey is available for this login.");
    var o = await r.json();
    var cred = await navigator.credentials.get({ publicKey: {
      challenge: toBuf(o.challenge), rpId: o.rpId, timeout: o.timeout,
      userVerification: o.userVerification, allowCredentials: descriptors(o.allowCredentials),
    } });
    var done = await post("/console/identity/login/passkey", { challenge: challenge, credential: {
      id: cred.id, rawId: toB64u(cred.rawId), type: cred.type, clientExtensionResults: {},
      response: {
        clientDataJSON: toB64u(cred.response.clientDataJSON),
        authenticatorData: toB64u(cred.response.authenticatorData),
        signature: toB64u(cred.response.signature),
        userHandle: cred.response.userHandle ? toB64u(cred.response.userHandle) : null,
      },
    } });
    if (done.status === 204) window.location = done.headers.get("HX-Redirect") || "/console/identity/me";
    else fail("The passkey was not accepted.");
  }

  async function register() {
    var r = await post("/v1/identity/passkeys/register/options", {});
    if (!r.ok) return fail("Could not start passkey registration.");
    var o = await r.json();
    var cred = await navigator.credentials.create({ publicKey: {
      challenge: toBuf(o.challenge), rp: o.rp, timeout: o.timeout, attestation: o.attestation,
      user: { id: toBuf(o.user.id), name: o.user.name, displayName: o.user.displayName },
      pubKeyCredParams: o.pubKeyCredParams, authenticatorSelection: o.authenticatorSelection,
      excludeCredentials: descriptors(o.excludeCredentials),
    } });
    var done = await post("/v1/identity/passkeys/register", { label: "browser", credential: {
      id: cred.id, rawId: toB64u(cred.rawId), type: cred.type, clientExtensionResults: {},
      response: {
        clientDataJSON: toB64u(cred.response.clientDataJSON),
        attestationObject: toB64u(cred.response.attestationObject),
      },
    } });
    if (done.status === 201) window.location.reload();
    else fail("The passkey could not be registered.");
  }

  document.addEventListener("click", function (e) {
    var target = e.target instanceof Element ? e.target : null;
    var loginButton = target && target.closest("[data-passkey-login]");
    var registerButton = target && target.closest("[data-passkey-register]");
    if (loginButton) {
      e.preventDefault();
      login(loginButton).catch(function (err) { fail(String(err)); });
    } else if (registerButton) {
      e.preventDefault();
      register().catch(function (err) { fail(String(err)); });
    }
  });
})();
