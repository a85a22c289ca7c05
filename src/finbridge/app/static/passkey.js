// Passkeys in the app: the WebAuthn ceremonies for signing in and for adding a passkey.
// No inline script (the CSP forbids it): buttons carry data attributes, this file handles
// clicks and sends the CSRF token the page carries in <body hx-headers>.
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

  function csrf() {
    try { return JSON.parse(document.body.getAttribute("hx-headers"))["X-CSRF-Token"]; }
    catch (e) { return ""; }
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify(body || {}),
    });
  }

  function fail(el) {
    var p = document.getElementById("passkey-error");
    if (p) p.hidden = false;
    if (el) el.disabled = false;
  }

  function descriptors(list) {
    return (list || []).map(function (c) { return { type: c.type, id: toBuf(c.id) }; });
  }

  async function login(button) {
    var challenge = button.dataset.challenge;
    var r = await post("/app/login/passkey/options", { challenge: challenge });
    if (!r.ok) return fail(button);
    var o = await r.json();
    var cred = await navigator.credentials.get({ publicKey: {
      challenge: toBuf(o.challenge), rpId: o.rpId, timeout: o.timeout,
      userVerification: o.userVerification, allowCredentials: descriptors(o.allowCredentials),
    } });
    var done = await post("/app/login/passkey", { challenge: challenge, next: button.dataset.next,
      credential: {
        id: cred.id, rawId: toB64u(cred.rawId), type: cred.type, clientExtensionResults: {},
        response: {
          clientDataJSON: toB64u(cred.response.clientDataJSON),
          authenticatorData: toB64u(cred.response.authenticatorData),
          signature: toB64u(cred.response.signature),
          userHandle: cred.response.userHandle ? toB64u(cred.response.userHandle) : null,
        },
      } });
    if (!done.ok) return fail(button);
    window.location = (await done.json()).next;
  }

  async function register(button) {
    var r = await post("/app/security/passkeys/options", {});
    if (!r.ok) return fail(button);
    var o = await r.json();
    var cred = await navigator.credentials.create({ publicKey: {
      challenge: toBuf(o.challenge), rp: o.rp, timeout: o.timeout, attestation: o.attestation,
      user: { id: toBuf(o.user.id), name: o.user.name, displayName: o.user.displayName },
      pubKeyCredParams: o.pubKeyCredParams, authenticatorSelection: o.authenticatorSelection,
      excludeCredentials: descriptors(o.excludeCredentials),
    } });
    var done = await post("/app/security/passkeys", { label: button.dataset.label || "", credential: {
      id: cred.id, rawId: toB64u(cred.rawId), type: cred.type, clientExtensionResults: {},
      response: {
        clientDataJSON: toB64u(cred.response.clientDataJSON),
        attestationObject: toB64u(cred.response.attestationObject),
      },
    } });
    if (!done.ok) return fail(button);
    window.location.reload();
  }

  async function stepUp(button) {
    var r = await post("/app/transfers/passkey/options", {});
    if (!r.ok) return fail(button);
    var o = await r.json();
    var cred = await navigator.credentials.get({ publicKey: {
      challenge: toBuf(o.challenge), rpId: o.rpId, timeout: o.timeout,
      userVerification: o.userVerification, allowCredentials: descriptors(o.allowCredentials),
    } });
    var done = await post("/app/transfers/passkey", { credential: {
      id: cred.id, rawId: toB64u(cred.rawId), type: cred.type, clientExtensionResults: {},
      response: {
        clientDataJSON: toB64u(cred.response.clientDataJSON),
        authenticatorData: toB64u(cred.response.authenticatorData),
        signature: toB64u(cred.response.signature),
        userHandle: cred.response.userHandle ? toB64u(cred.response.userHandle) : null,
      },
    } });
    if (!done.ok) return fail(button);
    button.form.submit();  // the same transfer, same key, now with a fresh second factor
  }

  document.addEventListener("click", function (e) {
    var target = e.target instanceof Element ? e.target : null;
    if (!target) return;
    var button = target.closest("[data-passkey-login], [data-passkey-register], [data-passkey-stepup]");
    if (!button) return;
    e.preventDefault();
    button.disabled = true;
    var run = button.hasAttribute("data-passkey-login") ? login
      : button.hasAttribute("data-passkey-register") ? register : stepUp;
    run(button).catch(function () { fail(button); });
  });
})();
