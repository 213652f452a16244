/* The audit log (admin): staff actions, filtered by who, action and dates, a page at a time
 * (/api/admin/audit), and the same selection as CSV (/api/admin/audit.csv). Read-only. */
(function () {
  "use strict";

  var C = window.Console, T = C.T, el = C.el, fmt = C.fmt;
  var $ = function (id) { return document.getElementById(id); };
  var page = 1, pages = 1, optionsLoaded = false, agentsById = {};

  function query(withPage) {
    var params = [];
    [["actor_id", "filter-actor"], ["action", "filter-action"], ["from", "filter-from"], ["to", "filter-to"]]
      .forEach(function (pair) {
        var value = $(pair[1]).value;
        if (value) params.push(pair[0] + "=" + encodeURIComponent(value));
      });
    if (withPage) params.push("page=" + page);
    return params.length ? "?" + params.join("&") : "";
  }

  // An agent target by name and e-mail (the log keeps the id, which stays true after a rename).
  function targetText(entry) {
    if (!entry.target_type) return "";
    var agent = entry.target_type === "agent" ? agentsById[entry.target_id] : null;
    return agent ? agent.name + " <" + agent.email + ">" : entry.target_type + " " + (entry.target_id || "");
  }

  function detailText(detail) {
    return Object.keys(detail || {}).map(function (key) { return key + ": " + JSON.stringify(detail[key]); }).join(", ");
  }

  function render(res) {
    var body = $("audit-body");
    body.textContent = "";
    res.entries.forEach(function (entry) {
      body.appendChild(el("tr", { "data-action": entry.action, "data-entry-id": entry.id }, [
        el("td", null, [el("time", { datetime: entry.at, text: new Date(entry.at).toLocaleString(C.config.lang) })]),
        el("td", { text: entry.actor }),
        el("td", null, [el("span", { class: "badge", text: entry.action })]),
        el("td", { text: targetText(entry) }),
        el("td", { class: "detail", text: detailText(entry.detail) }),
        el("td", { class: "origin", title: entry.user_agent || "", text: entry.ip || "" })
      ]));
    });
    pages = Math.max(1, Math.ceil(res.total / res.per_page));
    $("audit-empty").hidden = res.entries.length > 0;
    $("audit-page").textContent = fmt("audit_page", { page: res.page, pages: pages, total: res.total });
    $("audit-previous").disabled = res.page <= 1;
    $("audit-next").disabled = res.page >= pages;
    $("audit-export").setAttribute("href", "/api/admin/audit.csv" + query(false));
    if (!optionsLoaded) {
      res.actions.forEach(function (action) { $("filter-action").appendChild(el("option", { value: action, text: action })); });
      optionsLoaded = true;
    }
    document.body.setAttribute("data-audit-total", String(res.total));
  }

  function load() {
    return C.api("GET", "/api/admin/audit" + query(true)).then(render).catch(C.showError);
  }

  function loadActors() {
    return C.api("GET", "/api/admin/agents").then(function (res) {
      res.agents.forEach(function (agent) {
        agentsById[String(agent.id)] = agent;
        $("filter-actor").appendChild(el("option", { value: String(agent.id), text: agent.name + " <" + agent.email + ">" }));
      });
    });
  }

  C.signIn().then(function (agent) {
    if (!C.hasRole(agent, "admin")) { window.location.reload(); return null; }
    $("app-view").hidden = false;
    $("audit-filters").addEventListener("submit", function (e) { e.preventDefault(); page = 1; load(); });
    $("audit-previous").addEventListener("click", function () { if (page > 1) { page -= 1; load(); } });
    $("audit-next").addEventListener("click", function () { if (page < pages) { page += 1; load(); } });
    return loadActors().then(load);
  }).catch(C.showError);
})();
