/* Choosing a new password after a reset (POST /api/agent/password): until it is done every other
 * call answers 403 password_change_required, so the console sends the agent here. */
(function () {
  "use strict";

  var T = window.Console.T;
  var $ = function (id) { return document.getElementById(id); };

  $("password-current").focus();
  $("password-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var error = $("password-error");
    error.textContent = "";
    if ($("password-new").value !== $("password-confirm").value) {
      error.textContent = T.password_mismatch;
      return;
    }
    // The page carries the session's CSRF token (the sign-in form's field): after sign-in it is the same.
    fetch("/api/agent/password", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": "application/json",
                 "X-CSRF-Token": $("login-csrf").value },
      body: JSON.stringify({ current_password: $("password-current").value, new_password: $("password-new").value })
    }).then(function (res) {
      return res.json().catch(function () { return {}; }).then(function (json) {
        if (res.ok) { window.location.href = "/console"; return; }
        if (res.status === 401) { error.textContent = T.password_signed_out; return; }
        error.textContent = (json.error && json.error.message) || String(res.status);
      });
    }).catch(function (err) { error.textContent = String(err); });
  });
})();
