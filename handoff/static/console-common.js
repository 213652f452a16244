/* Shared by the console pages: strings, the agent API client (session cookie + CSRF header),
 * sign-in and sign-out, toasts, and a reconnecting event stream. Text from the server is only
 * ever put into the page with textContent. */
(function () {
  "use strict";

  var T = JSON.parse(document.getElementById("console-strings").textContent);
  var CONFIG = JSON.parse(document.getElementById("console-config").textContent);
  var csrfToken = null;

  function fmt(key, values) {
    var template = T[key] !== undefined ? T[key] : key;
    return String(template).replace(/\{(\w+)\}/g, function (_, k) {
      return values && values[k] !== undefined ? String(values[k]) : "";
    });
  }

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      var value = attrs[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "text") node.textContent = value;
      else if (key === "class") node.className = value;
      else node.setAttribute(key, value === true ? "" : value);
    });
    (children || []).forEach(function (c) {
      if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return node;
  }

  function ApiError(status, code, message) {
    this.status = status;
    this.code = code;
    this.message = message;
  }
  ApiError.prototype = Object.create(Error.prototype);

  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (method !== "GET" && csrfToken) headers["X-CSRF-Token"] = csrfToken;
    return fetch(path, {
      method: method, headers: headers, credentials: "same-origin",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (res) {
      if (res.status === 204) return null;
      return res.json().catch(function () { return {}; }).then(function (json) {
        if (!res.ok) {
          var e = (json && json.error) || {};
          throw new ApiError(res.status, e.code || "http_" + res.status, e.message || res.statusText);
        }
        return json;
      });
    });
  }

  function toast(message, kind) {
    var box = document.getElementById("toasts");
    var item = el("div", { class: "toast " + (kind || "info"), text: message });
    box.appendChild(item);
    setTimeout(function () { item.classList.add("leaving"); }, 5200);
    setTimeout(function () { item.remove(); }, 5600);
  }

  function showError(err) {
    toast(fmt("error", { message: (err && err.message) || String(err) }), "error");
  }

  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds || 0));
    if (seconds < 60) return fmt("seconds", { n: seconds });
    if (seconds < 3600) return fmt("minutes", { n: Math.floor(seconds / 60) });
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60);
    return fmt("hours", { n: h }) + (m ? " " + fmt("minutes", { n: m }) : "");
  }

  function clock(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    return d.toLocaleTimeString(CONFIG.lang, { hour: "2-digit", minute: "2-digit" });
  }

  function dateTime(iso) {
    var d = new Date(iso);
    if (isNaN(d)) return "";
    return d.toLocaleString(CONFIG.lang, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
  }

  // An EventSource that reconnects with backoff and tells the page when it lost and regained
  // the stream, so the page can re-read what it may have missed.
  function stream(url, handlers, onState) {
    var es = null, delay = 1000, timer = null, stopped = false, lost = false;
    function open() {
      es = new EventSource(url, { withCredentials: true });
      es.addEventListener("open", function () {
        delay = 1000;
        if (onState) onState(lost ? "recovered" : "open");
        lost = false;
      });
      Object.keys(handlers).forEach(function (type) {
        es.addEventListener(type, function (e) {
          var data = null;
          try { data = JSON.parse(e.data); } catch (err) { return; }
          handlers[type](data, e);
        });
      });
      // The account was deactivated or its password reset: this session is over; the page
      // reloads to the sign-in form instead of reconnecting to 401s.
      es.addEventListener("signed_out", function () {
        stopped = true;
        es.close();
        window.location.reload();
      });
      es.addEventListener("error", function () {
        if (stopped) return;
        es.close();
        lost = true;
        if (onState) onState("lost");
        timer = setTimeout(open, delay);
        delay = Math.min(delay * 2, 15000);
      });
    }
    open();
    return { close: function () { stopped = true; clearTimeout(timer); if (es) es.close(); } };
  }

  var ROLES = ["agent", "editor", "admin"];   // each can do what the ones before it can

  function hasRole(agent, role) {
    return ROLES.indexOf(agent.role) >= ROLES.indexOf(role);
  }

  function setSignedIn(agent) {
    document.querySelectorAll("[data-signed-in]").forEach(function (n) { n.hidden = !agent; });
    document.querySelectorAll("[data-min-role]").forEach(function (n) { n.hidden = !(agent && hasRole(agent, n.dataset.minRole)); });
    if (!agent) return;
    document.getElementById("me-name").textContent = agent.name || agent.email;
    document.getElementById("me-role").textContent = agent.role || "";
    document.getElementById("me-initial").textContent = (agent.name || agent.email || "?").slice(0, 1).toUpperCase();
  }

  // Resolves with the signed-in agent, showing the sign-in form first when there is none.
  function signIn() {
    return api("GET", "/api/agent/me").then(function (res) {
      if (res && res.csrf_token) csrfToken = res.csrf_token;
      return res.agent || res;
    }, function (err) {
      if (err.code === "password_change_required") return toPasswordChange();
      if (err.status !== 401) throw err;
      return new Promise(function (resolve) { showLogin(resolve); });
    }).then(function (agent) {
      document.getElementById("login-view").hidden = true;
      setSignedIn(agent);
      Console.agent = agent;
      return agent;
    });
  }

  // After a password reset nothing works until the agent chooses a new one (staff pages, password.js).
  function toPasswordChange() {
    window.location.href = "/console/password";
    return new Promise(function () {});
  }

  function showLogin(resolve) {
    var view = document.getElementById("login-view");
    var form = document.getElementById("login-form");
    var error = document.getElementById("login-error");
    view.hidden = false;
    document.getElementById("login-email").focus();
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      error.textContent = "";
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      fetch("/api/agent/login", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json",
                   "X-CSRF-Token": document.getElementById("login-csrf").value },
        body: JSON.stringify({
          email: document.getElementById("login-email").value.trim(),
          password: document.getElementById("login-password").value
        })
      }).then(function (res) {
        return res.json().catch(function () { return {}; }).then(function (json) {
          button.disabled = false;
          if (!res.ok) {
            var code = json && json.error && json.error.code;
            error.textContent = code === "csrf_failed" ? T.login_expired :
              res.status === 401 || res.status === 400 || res.status === 403 ? T.login_failed :
              (json && json.error && json.error.message) || T.login_failed;
            document.getElementById("login-password").select();
            return;
          }
          csrfToken = json.csrf_token;
          document.getElementById("login-password").value = "";
          if (json.password_change_required) { toPasswordChange(); return; }
          resolve(json.agent);
        });
      }).catch(function (err) { button.disabled = false; error.textContent = String(err); });
    });
  }

  function bindLogout() {
    var button = document.getElementById("logout");
    if (!button) return;
    button.addEventListener("click", function () {
      api("POST", "/api/agent/logout", {}).catch(function () { /* signed out either way */ })
        .then(function () { window.location.reload(); });
    });
  }

  // Remember ?lang= so the next page of the console opens in the same language.
  if (/[?&]lang=(ja|en)/.test(location.search)) {
    document.cookie = "tsunagi_lang=" + CONFIG.lang + "; path=/console; max-age=31536000; samesite=lax";
  }
  bindLogout();

  // Known customers (docs/identity.md), for the console's side panel and the admin contacts page:
  // everything held about a contact as a JSON download, and its erasure after a confirmation.
  function exportContact(contact) {
    return api("POST", "/api/admin/contacts/" + contact.id + "/export", {}).then(function (data) {
      var blob = new Blob([JSON.stringify(data, null, 2)], { type: "application/json" });
      var link = el("a", { href: URL.createObjectURL(blob), download: "contact-" + contact.id + ".json" });
      document.body.appendChild(link);
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 1000);
    }).catch(showError);
  }

  function eraseContact(contact, then) {
    if (!window.confirm(fmt("contact_erase_confirm", { name: contact.name || contact.shop_customer_id || contact.id }))) return;
    api("POST", "/api/admin/contacts/" + contact.id + "/erase", {}).then(function (res) {
      toast(fmt("contact_erased", { n: res.conversations }), "success");
      then();
    }).catch(showError);
  }

  var Console = window.Console = {
    T: T, config: CONFIG, fmt: fmt, el: el, api: api, toast: toast, showError: showError,
    duration: duration, clock: clock, dateTime: dateTime, stream: stream, signIn: signIn, hasRole: hasRole,
    ROLES: ROLES, agent: null, exportContact: exportContact, eraseContact: eraseContact
  };
})();
