/* Unanswered questions (editors): what customers asked that the bot did not understand, with the
 * intents it considered, as material for the next FAQ update. */
(function () {
  "use strict";

  var C = window.Console, T = C.T, el = C.el;
  var $ = function (id) { return document.getElementById(id); };

  function candidates(ranking) {
    return el("span", { class: "candidates" }, ranking.slice(0, 3).map(function (r) {
      var conf = typeof r.confidence === "number" ? r.confidence.toFixed(2) : "–";
      return el("span", { class: "nlu" + (r.name === "nlu_fallback" ? " fallback" : "") }, [
        el("span", { class: "intent", text: r.name }), el("span", { class: "conf", text: conf })
      ]);
    }));
  }

  function load() {
    var params = [];
    // Without dates the server picks the last 7 days in the support time zone.
    if ($("range-from").value) params.push("from=" + encodeURIComponent($("range-from").value));
    if ($("range-to").value) params.push("to=" + encodeURIComponent($("range-to").value));
    if ($("filter-language").value) params.push("language=" + $("filter-language").value);
    return C.api("GET", "/api/admin/unanswered" + (params.length ? "?" + params.join("&") : "")).then(function (res) {
      var rows = res.questions || [], body = $("unanswered-body");
      body.textContent = "";
      rows.forEach(function (q) {
        body.appendChild(el("tr", null, [
          el("td", { text: C.dateTime(q.created_at) }),
          el("td", null, [el("span", { class: "badge lang", text: (q.language || "").toUpperCase() })]),
          el("td", { class: "question", text: q.text }),
          el("td", null, [candidates(q.intent_ranking && q.intent_ranking.length ? q.intent_ranking : [{ name: q.intent, confidence: q.confidence }])])
        ]));
      });
      $("unanswered-count").textContent = T.unanswered + " · " + C.fmt("unanswered_count", { n: rows.length }) +
        ($("range-from").value ? "" : " · " + T.default_range);
      $("unanswered-empty").hidden = rows.length > 0;
      document.body.setAttribute("data-loaded", String(rows.length));
    }).catch(C.showError);
  }

  C.signIn().then(function (agent) {
    if (!C.hasRole(agent, "editor")) { window.location.reload(); return; }
    $("app-view").hidden = false;
    $("filter-form").addEventListener("submit", function (e) { e.preventDefault(); load(); });
    return load();
  }).catch(C.showError);
})();
