/* The KPI dashboard: GET /api/admin/kpis over a date range, drawn with Chart.js (vendored). */
(function () {
  "use strict";

  var C = window.Console, T = C.T, fmt = C.fmt;
  var $ = function (id) { return document.getElementById(id); };
  var charts = {};

  var GREEN = "#2f6f5e", GREEN_LIGHT = "#8cc4b0", AMBER = "#e0a43a", RED = "#d1495b", BLUE = "#4a78b5",
    PURPLE = "#7a68b8", GREY = "#c9d2ce";
  var PALETTE = [GREEN, AMBER, BLUE, RED, PURPLE, GREEN_LIGHT, "#b5835a", "#5aa0a8"];

  Chart.defaults.font.family = getComputedStyle(document.documentElement).fontFamily;
  Chart.defaults.font.size = 12;
  Chart.defaults.color = "#4d5d57";
  Chart.defaults.plugins.legend.labels.boxWidth = 12;
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation.duration = 350;

  function isoDay(d) {
    var m = d.getMonth() + 1, day = d.getDate();
    return d.getFullYear() + "-" + (m < 10 ? "0" : "") + m + "-" + (day < 10 ? "0" : "") + day;
  }

  function pct(rate) {
    return rate === null || rate === undefined ? "–" : (Math.round(rate * 1000) / 10) + "%";
  }

  function secs(value) {
    return value === null || value === undefined ? "–" : C.duration(value);
  }

  // A topic by its title in the console's language (the server names it; the id when it has no title).
  function topicName(t) {
    return t.title || t.topic;
  }

  function reasonLabel(reason) {
    return T["reason_" + reason] || reason;
  }

  // Draws (or redraws) one chart; an empty data set shows "no data" instead of blank axes.
  function draw(key, config, summary, empty) {
    var canvas = $("chart-" + key);
    var box = canvas.parentNode;
    box.querySelector(".chart-empty").hidden = !empty;
    canvas.hidden = !!empty;
    canvas.setAttribute("aria-label", summary);
    if (charts[key]) charts[key].destroy();
    charts[key] = empty ? null : new Chart(canvas, config);
  }

  function barOptions(extra) {
    return Object.assign({
      plugins: { legend: { display: false } },
      scales: { x: { grid: { display: false } }, y: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: "#eef1f0" } } }
    }, extra || {});
  }

  function render(k) {
    $("range-label").textContent = k.from + " – " + k.to + (k.timezone ? " (" + k.timezone + ")" : "");

    // Tiles
    $("tile-conversations").textContent = String(k.conversations);
    $("tile-conversations-sub").textContent = fmt("kpi_handoffs", { n: k.handoffs || 0 });
    $("tile-containment").textContent = pct(k.containment_rate);
    $("tile-handoff").textContent = pct(k.handoff_rate);
    $("tile-handoff-sub").textContent = String(k.handoffs || 0) + " / " + String(k.conversations);
    $("tile-fallback").textContent = pct(k.fallback_rate);
    var csat = k.csat || {}, effort = k.effort || {};
    $("tile-csat").textContent = csat.average === null || csat.average === undefined ? "–" : csat.average.toFixed(1) + " / 5";
    $("tile-csat-sub").textContent = T.kpi_ratings + ": " + (csat.count || 0) +
      (csat.satisfied_rate !== null && csat.satisfied_rate !== undefined ? " · ≥4★ " + pct(csat.satisfied_rate) : "");
    $("tile-ces").textContent = effort.average === null || effort.average === undefined ? "–" : effort.average.toFixed(1) + " / 5";
    $("tile-ces-sub").textContent = T.kpi_ratings + ": " + (effort.count || 0);
    var wait = k.queue_wait_seconds || {}, first = k.first_response_seconds || {}, handle = k.handle_seconds || {};
    $("tile-wait").textContent = secs(wait.p50);
    $("tile-wait-sub").textContent = T.p90 + " " + secs(wait.p90) + " · n=" + (wait.count || 0);
    $("tile-first").textContent = secs(first.p50);
    $("tile-first-sub").textContent = T.p90 + " " + secs(first.p90) + " · n=" + (first.count || 0);
    $("tile-handle").textContent = secs(handle.p50);
    $("tile-handle-sub").textContent = T.p90 + " " + secs(handle.p90) + " · n=" + (handle.count || 0);

    // Conversations per day (every day of the range, zeros included)
    var perDay = k.per_day;
    draw("per_day", {
      type: "line",
      data: {
        labels: perDay.map(function (d) { return d.date.slice(5); }),
        datasets: [
          { label: T.kpi_conversations, data: perDay.map(function (d) { return d.conversations; }), borderColor: GREEN, backgroundColor: "rgba(47,111,94,.12)", fill: true, tension: .3 },
          { label: T.kpi_handoff_rate, data: perDay.map(function (d) { return d.handoffs; }), borderColor: AMBER, backgroundColor: AMBER, tension: .3 }
        ]
      },
      options: barOptions({ plugins: { legend: { display: true, position: "bottom" } } })
    }, perDay.map(function (d) { return d.date + ": " + d.conversations; }).join(", "), !perDay.length);

    // Containment: resolved by the bot vs handed to a person
    var handed = Math.round((k.handoff_rate || 0) * k.conversations), contained = k.conversations - handed;
    draw("containment", {
      type: "doughnut",
      data: { labels: [T.kpi_containment, T.kpi_handoff_rate], datasets: [{ data: [contained, handed], backgroundColor: [GREEN, AMBER], borderWidth: 0 }] },
      options: { cutout: "62%", plugins: { legend: { position: "bottom" } } }
    }, T.kpi_containment + " " + pct(k.containment_rate) + ", " + T.kpi_handoff_rate + " " + pct(k.handoff_rate), !k.conversations);

    // Handoff reasons
    var reasons = Object.keys(k.handoff_reasons || {});
    draw("handoff_reasons", {
      type: "bar",
      data: { labels: reasons.map(reasonLabel), datasets: [{ data: reasons.map(function (r) { return k.handoff_reasons[r]; }), backgroundColor: reasons.map(function (_, i) { return PALETTE[(i + 1) % PALETTE.length]; }), borderRadius: 6 }] },
      options: barOptions({ indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: "#eef1f0" } }, y: { grid: { display: false } } } })
    }, reasons.map(function (r) { return reasonLabel(r) + ": " + k.handoff_reasons[r]; }).join(", "), !reasons.length);

    // Fallback rate: share of bot turns not understood
    var fb = k.fallback_rate;
    draw("fallback", {
      type: "doughnut",
      data: { labels: [T.fallback, T.understood], datasets: [{ data: [fb || 0, 1 - (fb || 0)], backgroundColor: [RED, GREY], borderWidth: 0 }] },
      options: { cutout: "62%", plugins: { legend: { position: "bottom" }, tooltip: { callbacks: { label: function (ctx) { return ctx.label + ": " + pct(ctx.raw); } } } } }
    }, T.kpi_fallback_rate + " " + pct(fb), fb === null || fb === undefined);

    // Top topics
    var topics = k.top_topics || [];
    draw("top_topics", {
      type: "bar",
      data: { labels: topics.map(topicName), datasets: [{ data: topics.map(function (t) { return t.count; }), backgroundColor: GREEN, borderRadius: 6 }] },
      options: barOptions({ indexAxis: "y", scales: { x: { beginAtZero: true, ticks: { precision: 0 }, grid: { color: "#eef1f0" } }, y: { grid: { display: false } } } })
    }, topics.map(function (t) { return topicName(t) + ": " + t.count; }).join(", "), !topics.length);

    // Queue wait, first response and handle time: seconds while they are short, else minutes
    var timeLabels = [T.kpi_queue_wait, T.kpi_first_response, T.kpi_handle_time];
    var groups = [wait, first, handle];
    var longest = Math.max.apply(null, groups.map(function (g) { return g.p90 || 0; }));
    var unit = longest >= 180 ? 60 : 1;
    var scaled = function (v) { return v === null || v === undefined ? null : Math.round(v / unit * 10) / 10; };
    draw("times", {
      type: "bar",
      data: {
        labels: timeLabels,
        datasets: [
          { label: T.p50, data: groups.map(function (g) { return scaled(g.p50); }), backgroundColor: GREEN, borderRadius: 6 },
          { label: T.p90, data: groups.map(function (g) { return scaled(g.p90); }), backgroundColor: GREEN_LIGHT, borderRadius: 6 }
        ]
      },
      options: barOptions({
        plugins: { legend: { display: true, position: "bottom" }, tooltip: { callbacks: { label: function (ctx) { return ctx.dataset.label + ": " + secs(groups[ctx.dataIndex][ctx.datasetIndex ? "p90" : "p50"]); } } } },
        scales: { x: { grid: { display: false } }, y: { beginAtZero: true, title: { display: true, text: unit === 60 ? T.unit_minutes : T.unit_seconds }, grid: { color: "#eef1f0" } } }
      })
    }, timeLabels.map(function (l, i) { return l + " " + T.p50 + " " + secs(groups[i].p50) + ", " + T.p90 + " " + secs(groups[i].p90); }).join("; "),
    !groups.some(function (g) { return g.count; }));

    // Per-agent load
    var agents = k.agents || [];
    draw("agents", {
      type: "bar",
      data: {
        labels: agents.map(function (a) { return a.name || "#" + a.agent_id; }),
        datasets: [
          { label: T.claim, data: agents.map(function (a) { return a.claimed; }), backgroundColor: GREEN, borderRadius: 6 },
          { label: T.resolved, data: agents.map(function (a) { return a.resolved; }), backgroundColor: GREEN_LIGHT, borderRadius: 6 },
          { label: T.status_assigned, data: agents.map(function (a) { return a.open; }), backgroundColor: AMBER, borderRadius: 6 }
        ]
      },
      options: barOptions({ plugins: { legend: { display: true, position: "bottom" } } })
    }, agents.map(function (a) { return a.name + ": " + a.claimed + "/" + a.resolved + "/" + a.open; }).join(", "), !agents.length);

    // CSAT and effort distributions
    var scores = ["1", "2", "3", "4", "5"];
    var csatDist = csat.distribution || {}, effortDist = effort.distribution || {};
    draw("csat", {
      type: "bar",
      data: { labels: scores.map(function (s) { return s + "★"; }), datasets: [{ label: T.count, data: scores.map(function (s) { return csatDist[s] || 0; }), backgroundColor: [RED, "#e07b4f", AMBER, GREEN_LIGHT, GREEN], borderRadius: 6 }] },
      options: barOptions()
    }, scores.map(function (s) { return s + "★: " + (csatDist[s] || 0); }).join(", "), !csat.count);
    draw("effort", {
      type: "bar",
      data: { labels: scores, datasets: [{ label: T.count, data: scores.map(function (s) { return effortDist[s] || 0; }), backgroundColor: BLUE, borderRadius: 6 }] },
      options: barOptions()
    }, scores.map(function (s) { return s + ": " + (effortDist[s] || 0); }).join(", "), !effort.count);

    // Recent ratings with comments (newest first, up to 20)
    var recent = k.recent_ratings;
    $("card-ratings").hidden = !recent.length;
    var body = $("ratings-body");
    body.textContent = "";
    recent.forEach(function (r) {
      var stars = r.csat ? "★★★★★".slice(0, r.csat) + "☆☆☆☆☆".slice(0, 5 - r.csat) : "–";
      body.appendChild(C.el("tr", null, [
        C.el("td", { text: r.rated_at ? C.dateTime(r.rated_at) : "" }),
        C.el("td", { class: "stars", text: stars, "aria-label": r.csat ? String(r.csat) + "/5" : "–" }),
        C.el("td", { text: r.ces ? String(r.ces) : "–" }),
        C.el("td", { text: r.comment || "" }),
        C.el("td", { text: r.agent_name || "" })
      ]));
    });
  }

  // The help center's self-service figures (article views, searches, votes, chats from its pages)
  function renderHelp(h) {
    if (!h) return;
    var votes = h.votes || {};
    $("tile-help-views").textContent = String(h.article_views);
    $("tile-help-visits").textContent = T.help_visits + ": " + h.visits;
    $("tile-help-searches").textContent = String(h.searches);
    $("tile-help-searches-sub").textContent = "";
    $("tile-help-no-result").textContent = String(h.searches_no_result);
    $("tile-help-no-result-sub").textContent = pct(h.no_result_rate);
    $("tile-help-helpful").textContent = pct(votes.helpful_rate);
    $("tile-help-helpful-sub").textContent = T.help_yes + " " + votes.yes + " · " + T.help_no + " " + votes.no;
    $("tile-help-chats").textContent = String(h.chats_from_help);
    $("tile-help-chats-sub").textContent = T.help_chats_hint + ": " + pct(h.chat_rate);
    var body = $("help-articles-body");
    body.textContent = "";
    (h.articles || []).forEach(function (a) {
      body.appendChild(C.el("tr", { "data-topic": a.topic }, [
        C.el("td", { text: a.title }), C.el("td", { text: String(a.views) }), C.el("td", { text: String(a.yes) }),
        C.el("td", { text: String(a.no) }), C.el("td", { text: pct(a.helpful_rate) })
      ]));
    });
    $("help-articles-empty").hidden = !!(h.articles || []).length;
    var comments = h.comments || [];
    $("card-help-comments").hidden = !comments.length;
    var list = $("help-comments-body");
    list.textContent = "";
    comments.forEach(function (c) {
      list.appendChild(C.el("tr", null, [
        C.el("td", { text: C.dateTime(c.created_at) }), C.el("td", { text: c.title }),
        C.el("td", { text: c.helpful ? T.help_yes : T.help_no }), C.el("td", { text: c.comment })
      ]));
    });
  }

  // "Today" is the support time zone's, which may not be the browser's: the first load asks
  // without dates and the server answers with the range it chose (the last 7 days).
  var today = null;

  function load(initial) {
    var from = $("range-from").value, to = $("range-to").value;
    var query = "?lang=" + encodeURIComponent(C.config.lang || "ja") +
      (initial ? "" : "&from=" + encodeURIComponent(from) + "&to=" + encodeURIComponent(to));
    $("range-label").textContent = T.loading;
    return C.api("GET", "/api/admin/kpis" + query).then(function (k) {
      if (initial) {
        today = k.to;
        $("range-from").value = k.from;
        $("range-to").value = k.to;
      }
      render(k);
      renderHelp(k.help_center);
      document.body.setAttribute("data-loaded", k.from + "/" + k.to);
    }).catch(function (err) { $("range-label").textContent = ""; C.showError(err); });
  }

  function setRange(days) {
    var to = today ? new Date(today + "T12:00:00") : new Date(), from = new Date(to.getTime());
    from.setDate(to.getDate() - (days - 1));
    $("range-from").value = isoDay(from);
    $("range-to").value = isoDay(to);
  }

  C.signIn().then(function (agent) {
    if (!C.hasRole(agent, "admin")) {
      window.location.reload();   // the server answers with the admins-only page
      return;
    }
    $("app-view").hidden = false;
    var params = new URLSearchParams(location.search);
    $("range-form").addEventListener("submit", function (e) { e.preventDefault(); load(false); });
    document.querySelectorAll("[data-days]").forEach(function (b) {
      b.addEventListener("click", function () { setRange(Number(b.dataset.days)); load(false); });
    });
    if (params.get("from") && params.get("to")) {
      $("range-from").value = params.get("from");
      $("range-to").value = params.get("to");
      return load(false);
    }
    return load(true);
  }).catch(C.showError);
})();
