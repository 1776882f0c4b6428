// Passkeys: enrolling one (the form with data-passkey-enroll on /passkeys)
// and signing a decision with one (buttons with data-passkey-sign in the
// decision forms). Loaded as a file, never inline (the CSP forbids inline
// scripts). Every request carries the form's CSRF field; the server checks
// everything again, this file only drives the browser's WebAuthn API.
"use strict";
(function () {
  function b64u(buf) {
    var s = "";
    var bytes = new Uint8Array(buf);
    for (var i = 0; i < bytes.length; i++) {
      s += String.fromCharCode(bytes[i]);
    }
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function unb64u(s) {
    s = s.replace(/-/g, "+").replace(/_/g, "/");
    while (s.length % 4) {
      s += "=";
    }
    var bin = atob(s);
    var out = new Uint8Array(bin.length);
    for (var i = 0; i < bin.length; i++) {
      out[i] = bin.charCodeAt(i);
    }
    return out.buffer;
  }
  function ids(list) {
    return (list || []).map(function (c) {
      return { type: c.type, id: unb64u(c.id), transports: c.transports };
    });
  }
  function say(form, text) {
    var status = form.querySelector("[data-passkey-status]");
    if (status) {
      status.textContent = text;
    }
  }
  function post(url, form, extra) {
    var body = new URLSearchParams(new FormData(form));
    Object.keys(extra || {}).forEach(function (k) { body.set(k, extra[k]); });
    return fetch(url, {
      method: "POST", body: body, credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (data) {
        if (!res.ok) {
          throw new Error(data.error || "The portal refused this (" + res.status + ").");
        }
        return data;
      });
    });
  }
  function failed(form, err) {
    var msg = err && err.name === "NotAllowedError" ? "The passkey was not used (cancelled or timed out)." : (err && err.message) || "Something went wrong.";
    say(form, msg);
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target.closest("form[data-passkey-enroll]");
    if (!form) {
      return;
    }
    ev.preventDefault();
    if (!window.PublicKeyCredential) {
      say(form, "This browser does not support passkeys.");
      return;
    }
    var base = form.getAttribute("data-passkey-enroll");
    say(form, "Waiting for your passkey…");
    post(base + "/begin", form).then(function (data) {
      var pk = data.options.publicKey;
      pk.challenge = unb64u(pk.challenge);
      pk.user.id = unb64u(pk.user.id);
      pk.excludeCredentials = ids(pk.excludeCredentials);
      return navigator.credentials.create({ publicKey: pk }).then(function (cred) {
        var credential = JSON.stringify({
          id: cred.id, rawId: b64u(cred.rawId), type: cred.type,
          response: {
            clientDataJSON: b64u(cred.response.clientDataJSON),
            attestationObject: b64u(cred.response.attestationObject),
            transports: cred.response.getTransports ? cred.response.getTransports() : []
          }
        });
        return post(base + "/finish", form, { id: data.id, credential: credential });
      });
    }).then(function (data) {
      window.location.assign(data.next || "/passkeys");
    }).catch(function (err) { failed(form, err); });
  });

  document.addEventListener("click", function (ev) {
    var button = ev.target.closest("button[data-passkey-sign]");
    if (!button) {
      return;
    }
    var form = button.closest("form");
    if (!form || !form.reportValidity()) {
      return;
    }
    if (!window.PublicKeyCredential) {
      say(form, "This browser does not support passkeys.");
      return;
    }
    button.disabled = true;
    say(form, "Waiting for your passkey…");
    post(button.getAttribute("data-passkey-sign"), form).then(function (data) {
      var box = form.querySelector("[data-passkey-statement]");
      if (box) {
        box.querySelector("pre").textContent = data.statement;
        box.hidden = false;
      }
      var pk = data.publicKey;
      pk.challenge = unb64u(pk.challenge);
      pk.allowCredentials = ids(pk.allowCredentials);
      return navigator.credentials.get({ publicKey: pk }).then(function (cred) {
        form.elements.passkey_nonce.value = data.nonce;
        form.elements.passkey_credential_id.value = b64u(cred.rawId);
        form.elements.passkey_authenticator_data.value = b64u(cred.response.authenticatorData);
        form.elements.passkey_client_data_json.value = b64u(cred.response.clientDataJSON);
        form.elements.passkey_signature.value = b64u(cred.response.signature);
        say(form, "Signed. Recording your decision…");
        form.submit();
      });
    }).catch(function (err) {
      button.disabled = false;
      failed(form, err);
    });
  });
})();
