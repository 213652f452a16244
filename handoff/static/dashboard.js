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

    // SLA attainment (handoff/sla.py): per day as a chart, per agent (with presence) as a table.
    var sla = k.sla;
    if (sla) {
      var slaDays = sla.per_day || [];
      var ratePct = function (t) { return t.rate === null || t.rate === undefined ? null : Math.round(t.rate * 1000) / 10; };
      draw("sla_per_day", {
        type: "line",
        data: {
          labels: slaDays.map(function (d) { return d.date.slice(5); }),
          datasets: [
            { label: T.sla_first_response, data: slaDays.map(function (d) { return ratePct(d.first_response); }), borderColor: GREEN, backgroundColor: GREEN, spanGaps: true, tension: .3 },
            { label: T.sla_resolution, data: slaDays.map(function (d) { return ratePct(d.resolution); }), borderColor: AMBER, backgroundColor: AMBER, spanGaps: true, tension: .3 }
          ]
        },
        options: barOptions({ plugins: { legend: { display: true, position: "bottom" } },
          scales: { x: { grid: { display: false } }, y: { min: 0, max: 100, grid: { color: "#eef1f0" } } } })
      }, slaDays.map(function (d) { return d.date + ": " + pct(d.first_response.rate) + " / " + pct(d.resolution.rate); }).join(", "),
      !slaDays.some(function (d) { return d.first_response.met + d.first_response.breached + d.resolution.met + d.resolution.breached; }));
      var cell = function (t) {
        return fmt("sla_cell", { rate: pct(t.rate), met: t.met, total: t.met + t.breached });
      };
      $("sla-summary").textContent = T.sla_first_response + " " + cell(sla.first_response) + " · " +
        T.sla_resolution + " " + cell(sla.resolution);
      var presenceOf = {};
      (k.agents || []).forEach(function (a) { presenceOf[a.agent_id] = a.presence; });
      var slaBody = $("sla-agents-body");
      slaBody.textContent = "";
      (sla.per_agent || []).forEach(function (a) {
        var state = a.presence || presenceOf[a.agent_id] || "offline";
        slaBody.appendChild(C.el("tr", null, [
          C.el("td", { text: a.name || "#" + a.agent_id }),
          C.el("td", null, [C.el("span", { class: "presence-badge", "data-state": state, text: T["presence_" + state] || state })]),
          C.el("td", { class: "sla-first", text: cell(a.first_response) }),
          C.el("td", { class: "sla-resolution", text: cell(a.resolution) })
        ]));
      });
    }

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

    // NPS: the score, its 0-10 distribution (detractors red, passives amber, promoters green), its
    // trend per day or week, and the comments.
    var nps = k.nps || { count: 0, distribution: {}, trend: { unit: "day", points: [] }, comments: [] };
    var signed = function (v) { return v === null || v === undefined ? "–" : (v > 0 ? "+" : "") + v.toFixed(1); };
    $("tile-nps").textContent = signed(nps.score);
    $("tile-nps-sub").textContent = T.kpi_ratings + ": " + (nps.count || 0) + (nps.count ? " · " +
      fmt("kpi_nps_sub", { p: nps.promoters, n: nps.passives, d: nps.detractors }) : "");
    var npsScores = ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"];
    var npsDist = nps.distribution || {};
    draw("nps", {
      type: "bar",
      data: { labels: npsScores, datasets: [{ label: T.count, data: npsScores.map(function (s) { return npsDist[s] || 0; }),
        backgroundColor: npsScores.map(function (s) { return Number(s) <= 6 ? RED : Number(s) <= 8 ? AMBER : GREEN; }), borderRadius: 6 }] },
      options: barOptions()
    }, npsScores.map(function (s) { return s + ": " + (npsDist[s] || 0); }).join(", "), !nps.count);
    var points = (nps.trend && nps.trend.points) || [];
    draw("nps_trend", {
      type: "line",
      data: { labels: points.map(function (p) { return p.start.slice(5); }),
        datasets: [{ label: T.kpi_nps, data: points.map(function (p) { return p.score; }), borderColor: PURPLE,
          backgroundColor: PURPLE, spanGaps: true, tension: .3 }] },
      options: barOptions({ scales: { x: { grid: { display: false } }, y: { min: -100, max: 100, grid: { color: "#eef1f0" } } } })
    }, points.map(function (p) { return p.start + ": " + signed(p.score) + " (n=" + p.count + ")"; }).join(", "), !nps.count);
    var npsComments = nps.comments || [];
    $("card-nps-comments").hidden = !npsComments.length;
    var npsBody = $("nps-comments-body");
    npsBody.textContent = "";
    npsComments.forEach(function (c) {
      npsBody.appendChild(C.el("tr", null, [
        C.el("td", { text: c.rated_at ? C.dateTime(c.rated_at) : "" }),
        C.el("td", { class: "nps-score", text: String(c.score) }),
        C.el("td", { text: c.comment })
      ]));
    });

    // Suggested answers per topic: shown, used, ignored.
    var assist = k.assist || [];
    $("card-assist").hidden = !assist.length;
    var assistBody = $("assist-body");
    assistBody.textContent = "";
    assist.forEach(function (a) {
      assistBody.appendChild(C.el("tr", { "data-topic": a.topic }, [
        C.el("td", { text: a.title }), C.el("td", { text: String(a.shown) }),
        C.el("td", { text: String(a.used) + (a.used_rate !== null && a.used_rate !== undefined ? " (" + pct(a.used_rate) + ")" : "") }),
        C.el("td", { text: String(a.ignored) })
      ]));
    });

    // The same figures per channel (web widget, LINE, e-mail)
    var channelsBody = $("channels-body");
    channelsBody.textContent = "";
    (k.by_channel || []).forEach(function (c) {
      channelsBody.appendChild(C.el("tr", { "data-channel": c.channel }, [
        C.el("td", { text: T["channel_" + c.channel] || c.channel }),
        C.el("td", { text: String(c.conversations) }),
        C.el("td", { text: pct(c.containment_rate) }),
        C.el("td", { text: pct(c.handoff_rate) + " (" + c.handoffs + ")" }),
        C.el("td", { text: pct(c.fallback_rate) }),
        C.el("td", { text: secs(c.queue_wait_seconds.p50) }),
        C.el("td", { text: secs(c.first_response_seconds.p50) }),
        C.el("td", { text: c.csat_average === null ? "–" : c.csat_average.toFixed(1) + " / 5 (" + c.csat_count + ")" })
      ]));
    });

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

  // LINE's push quota this month (when LINE reports one) and the messages the outbox gave up on.
  function loadChannels() {
    return C.api("GET", "/api/agent/channels").then(function (res) {
      var parts = [];
      (res.channels || []).forEach(function (c) {
        var q = c.push_quota;
        if (!q) return;
        parts.push(T.push_quota + ": " + (q.used === null || q.used === undefined ? "–" : q.used) + " / " +
          (q.type === "limited" ? q.limit : T.push_quota_unlimited));
      });
      if (res.outbox && res.outbox.failed) parts.push(T.outbox_failed + ": " + res.outbox.failed);
      $("channels-status").textContent = parts.join(" · ");
    }).catch(function () { $("channels-status").textContent = ""; });
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
    loadChannels();
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
