/* Staff accounts (admin): add an account, change a role, reset a password, deactivate and
 * reactivate, through /api/admin/agents. Text from the server only ever goes in with textContent. */
(function () {
  "use strict";

  var C = window.Console, T = C.T, el = C.el, fmt = C.fmt;
  var $ = function (id) { return document.getElementById(id); };
  var ROLES = C.ROLES;
  var resetting = null, confirming = null;

  function announce(text, temporary) {
    $("staff-result").hidden = false;
    $("staff-result-text").textContent = text;
    $("staff-temporary").hidden = !temporary;
    $("staff-temporary-value").textContent = temporary || "";
  }

  function stateBadges(agent) {
    var badges = [el("span", { class: "badge state", "data-state": agent.active ? "active" : "inactive",
                               text: agent.active ? T.state_active : T.state_inactive })];
    if (agent.must_change_password) badges.push(el("span", { class: "badge must-change", text: T.state_must_change }));
    if (agent.active && agent.presence) {  // online / away / offline (handoff/presence.py), in words
      badges.push(el("span", { class: "presence-badge", "data-state": agent.presence, text: T["presence_" + agent.presence] }));
    }
    return badges;
  }

  function roleSelect(agent) {
    var select = el("select", { "aria-label": fmt("staff_role") + " · " + agent.name, "data-role-of": agent.id },
      ROLES.map(function (role) {
        return el("option", { value: role, selected: role === agent.role, text: T["role_" + role] });
      }));
    select.addEventListener("change", function () {
      var role = select.value;
      C.api("POST", "/api/admin/agents/" + agent.id + "/role", { role: role }).then(function (res) {
        announce(fmt("role_done", { name: res.agent.name, role: T["role_" + res.agent.role] }));
        return load();
      }).catch(function (err) { select.value = agent.role; C.showError(err); });
    });
    return select;
  }

  function row(agent) {
    var actions = [];
    if (agent.active) {
      var off = el("button", { type: "button", class: "ghost small danger", "data-action": "deactivate", text: T.deactivate });
      off.addEventListener("click", function () {
        confirming = agent;
        $("confirm-text").textContent = fmt("confirm_deactivate", { name: agent.name });
        $("confirm-dialog").showModal();
      });
      actions.push(off);
    } else {
      var on = el("button", { type: "button", class: "ghost small", "data-action": "reactivate", text: T.reactivate });
      on.addEventListener("click", function () {
        C.api("POST", "/api/admin/agents/" + agent.id + "/reactivate", {}).then(function (res) {
          announce(fmt("reactivated_done", { name: res.agent.name }));
          return load();
        }).catch(C.showError);
      });
      actions.push(on);
    }
    var reset = el("button", { type: "button", class: "ghost small", "data-action": "reset", text: T.reset_password });
    reset.addEventListener("click", function () { openReset(agent); });
    actions.push(reset);
    var name = [agent.name];
    if (C.agent && agent.id === C.agent.id) name.push(el("small", { class: "muted", text: " (" + T.you + ")" }));
    return el("tr", { "data-agent-id": agent.id, "data-email": agent.email, class: agent.active ? "" : "inactive" }, [
      el("td", null, name), el("td", { text: agent.email }), el("td", null, [roleSelect(agent)]),
      el("td", null, stateBadges(agent)), el("td", { text: String(agent.open_conversations) }),
      el("td", { class: "staff-actions" }, actions)
    ]);
  }

  function load() {
    return C.api("GET", "/api/admin/agents").then(function (res) {
      var body = $("staff-body");
      body.textContent = "";
      res.agents.forEach(function (agent) { body.appendChild(row(agent)); });
      document.body.setAttribute("data-staff-loaded", String(res.agents.length));
    });
  }

  function openReset(agent) {
    resetting = agent;
    $("reset-title").textContent = fmt("reset_title", { name: agent.name });
    $("reset-password").value = "";
    $("reset-error").textContent = "";
    $("reset-dialog").showModal();
    $("reset-password").focus();
  }

  function bindConfirm() {
    $("confirm-cancel").addEventListener("click", function () { $("confirm-dialog").close(); });
    $("confirm-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var agent = confirming;
      $("confirm-dialog").close();
      C.api("POST", "/api/admin/agents/" + agent.id + "/deactivate", {}).then(function (res) {
        announce(fmt("deactivated_done", { name: res.agent.name, n: res.requeued_conversations || 0 }));
        if (C.agent && res.agent.id === C.agent.id) { window.location.reload(); return null; }
        return load();
      }).catch(C.showError);
    });
  }

  function bindReset() {
    $("reset-cancel").addEventListener("click", function () { $("reset-dialog").close(); });
    $("reset-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var password = $("reset-password").value;
      var body = password ? { password: password } : {};
      C.api("POST", "/api/admin/agents/" + resetting.id + "/reset-password", body).then(function (res) {
        $("reset-dialog").close();
        announce(fmt("password_done", { name: res.agent.name }), res.temporary_password);
        if (C.agent && res.agent.id === C.agent.id) { window.location.reload(); return null; }
        return load();
      }).catch(function (err) { $("reset-error").textContent = err.message; });
    });
  }

  function bindNew() {
    $("staff-new").addEventListener("submit", function (e) {
      e.preventDefault();
      var body = { name: $("new-name").value.trim(), email: $("new-email").value.trim(), role: $("new-role").value };
      if ($("new-password").value) body.password = $("new-password").value;
      C.api("POST", "/api/admin/agents", body).then(function (res) {
        $("staff-new").reset();
        announce(fmt("created_done", { name: res.agent.name }), res.temporary_password);
        return load();
      }).catch(C.showError);
    });
  }

  C.signIn().then(function (agent) {
    if (!C.hasRole(agent, "admin")) { window.location.reload(); return null; }
    $("app-view").hidden = false;
    bindNew();
    bindReset();
    bindConfirm();
    return load();
  }).catch(C.showError);
})();
