// nidan's one script: the WebAuthn calls a passkey needs, which a form
// alone cannot make. Every other page works without JavaScript.
// - [data-passkey-register]: adds a passkey or security key (the wizard,
//   or settings), through the JSON API, then goes to the form's data-next.
// - [data-passkey-signin]: the passkey step of a sign-in; the answer is
//   posted with its form, like a typed code.
"use strict";
(function () {
  function bytes(b64url) {
    var s = b64url.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) s += "=";
    var raw = atob(s), out = new Uint8Array(raw.length);
    for (var i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
    return out.buffer;
  }
  function b64url(buffer) {
    var a = new Uint8Array(buffer), s = "";
    for (var i = 0; i < a.length; i++) s += String.fromCharCode(a[i]);
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function withIds(list) {
    return (list || []).map(function (c) {
      return Object.assign({}, c, { id: bytes(c.id) });
    });
  }
  function creationOptions(o) {
    var p = Object.assign({}, o.publicKey);
    p.challenge = bytes(p.challenge);
    p.user = Object.assign({}, p.user, { id: bytes(p.user.id) });
    p.excludeCredentials = withIds(p.excludeCredentials);
    // credProtect asked of a key that is not discoverable is refused by
    // Chromium ("protection policy is inconsistent"); nidan does not
    // enforce it, so it is not asked for.
    if (p.extensions) {
      p.extensions = Object.assign({}, p.extensions);
      delete p.extensions.credentialProtectionPolicy;
      delete p.extensions.enforceCredentialProtectionPolicy;
    }
    return { publicKey: p };
  }
  function requestOptions(o) {
    var p = Object.assign({}, o.publicKey);
    p.challenge = bytes(p.challenge);
    p.allowCredentials = withIds(p.allowCredentials);
    return { publicKey: p };
  }
  function credentialJson(c) {
    var r = c.response, out = {
      id: c.id,
      rawId: b64url(c.rawId),
      type: c.type,
      extensions: c.getClientExtensionResults ? c.getClientExtensionResults() : {},
      response: { clientDataJSON: b64url(r.clientDataJSON) }
    };
    if (r.attestationObject) {
      out.response.attestationObject = b64url(r.attestationObject);
      if (r.getTransports) out.response.transports = r.getTransports();
    } else {
      out.response.authenticatorData = b64url(r.authenticatorData);
      out.response.signature = b64url(r.signature);
      out.response.userHandle = r.userHandle ? b64url(r.userHandle) : null;
    }
    return out;
  }
  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify(body)
    }).then(function (res) {
      return res.json().then(function (json) {
        if (!res.ok) throw new Error(json.error ? json.error.message : res.statusText);
        return json;
      });
    });
  }
  function say(text) {
    var el = document.querySelector("[data-passkey-error]");
    if (!el) return;
    el.textContent = text;
    el.hidden = false;
  }
  function unsupported() {
    if (window.PublicKeyCredential && navigator.credentials) return false;
    say(document.documentElement.lang === "ja"
      ? "このブラウザーはパスキーに対応していません。"
      : "This browser cannot use passkeys.");
    return true;
  }
  var add = document.querySelector("[data-passkey-register]");
  if (add) add.addEventListener("click", function () {
    if (unsupported()) return;
    var form = add.form, ceremony;
    add.disabled = true;
    post("/api/v1/passkeys/register/begin", { role: form.dataset.role })
      .then(function (begun) {
        ceremony = begun.ceremony;
        return navigator.credentials.create(creationOptions(begun.options));
      })
      .then(function (credential) {
        return post("/api/v1/passkeys/register/finish", {
          ceremony: ceremony,
          credential: credentialJson(credential),
          name: form.elements.name.value
        });
      })
      .then(function () { window.location.assign(form.dataset.next); })
      .catch(function (e) { add.disabled = false; say(e.message); });
  });
  // [data-passkey-signin]: the code step; [data-passkey-discover]:
  // signing in with a discoverable passkey alone, from the email page.
  [["[data-passkey-signin]", "/signin/passkey/begin"],
   ["[data-passkey-discover]", "/signin/passkey/discover/begin"]].forEach(function (pair) {
    var use = document.querySelector(pair[0]);
    if (use) ask(use, pair[1]);
  });
  function ask(use, begin) { use.addEventListener("click", function () {
    if (unsupported()) return;
    var form = use.form;
    use.disabled = true;
    post(begin, {})
      .then(function (begun) {
        form.elements.ceremony.value = begun.ceremony;
        return navigator.credentials.get(requestOptions(begun.options));
      })
      .then(function (credential) {
        form.elements.credential.value = JSON.stringify(credentialJson(credential));
        form.submit();
      })
      .catch(function (e) { use.disabled = false; say(e.message); });
  }); }
})();
