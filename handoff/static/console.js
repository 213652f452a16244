/* The agent desk: live queue, claiming, conversations in tabs (transcript with the bot's NLU,
 * replies with canned texts, typing, internal notes, transfer, hand back, resolve) and the
 * admins' canned-reply editor. */
(function () {
  "use strict";

  var C = window.Console, T = C.T, fmt = C.fmt, el = C.el, api = C.api;

  var state = {
    queue: [],
    queueFetchedAt: 0,
    knownQueue: null,          // ids seen in the queue; null until the first load (no alert then)
    conversations: {},         // id -> open tab {data, tab, panel, seen, unread}
    mine: [],
    active: null,
    agents: null,
    canned: {},
    streamState: "open"
  };

  var $ = function (id) { return document.getElementById(id); };

  function clone(id) {
    return $(id).content.firstElementChild.cloneNode(true);
  }

  function langLabel(lang) {
    return (lang || "").toUpperCase();
  }

  function reasonLabel(reason) {
    return T["reason_" + reason] || reason || "";
  }

  function statusLabel(status) {
    return T["status_" + status] || status || "";
  }

  // ---- alerts: a short beep made with WebAudio and a desktop notification ------------------

  var audio = null;

  function unlockAudio() {
    var Ctx = window.AudioContext || window.webkitAudioContext;
    if (!Ctx) return null;
    if (!audio) audio = new Ctx();
    if (audio.state === "suspended") audio.resume();
    return audio;
  }

  function beep() {
    var ctx = unlockAudio();
    if (!ctx) return;
    var start = ctx.currentTime + 0.01;
    [880, 1318.5].forEach(function (freq, i) {
      var osc = ctx.createOscillator(), gain = ctx.createGain(), t0 = start + i * 0.16;
      osc.type = "sine";
      osc.frequency.value = freq;
      gain.gain.setValueAtTime(0.0001, t0);
      gain.gain.exponentialRampToValueAtTime(0.2, t0 + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t0 + 0.14);
      osc.connect(gain);
      gain.connect(ctx.destination);
      osc.start(t0);
      osc.stop(t0 + 0.15);
    });
  }

  function notify(item) {
    beep();
    if (!("Notification" in window) || Notification.permission !== "granted") return;
    try {
      var n = new Notification(T.new_handoff + " (" + langLabel(item.language) + ")", {
        body: item.first_question || reasonLabel(item.reason), tag: "tsunagi-" + item.id, lang: C.config.lang
      });
      n.onclick = function () { window.focus(); n.close(); };
    } catch (e) { /* some browsers only notify from a service worker */ }
  }

  function renderAlertsButton() {
    var button = $("enable-alerts"), label = button.querySelector("span");
    var perm = "Notification" in window ? Notification.permission : "denied";
    label.textContent = perm === "granted" ? T.alerts_on : perm === "denied" ? T.alerts_blocked : T.enable_alerts;
    button.classList.toggle("on", perm === "granted");
    button.setAttribute("aria-pressed", perm === "granted" ? "true" : "false");
  }

  function bindAlertsButton() {
    var button = $("enable-alerts");
    renderAlertsButton();
    button.addEventListener("click", function () {
      unlockAudio();   // browsers only allow sound after a gesture; this is it
      beep();
      if ("Notification" in window && Notification.permission === "default") {
        Notification.requestPermission().then(renderAlertsButton);
      }
    });
    // The sign-in click is a gesture too.
    document.addEventListener("pointerdown", function once() {
      unlockAudio();
      document.removeEventListener("pointerdown", once);
    });
  }

  // ---- queue ------------------------------------------------------------------------------

  function loadQueue() {
    var lang = $("queue-language").value;
    return api("GET", "/api/agent/queue" + (lang ? "?language=" + lang : "")).then(function (res) {
      setQueue(res.queue || res.conversations || res.items || []);
    }).catch(C.showError);
  }

  function setQueue(items) {
    var first = state.knownQueue === null;
    if (first) state.knownQueue = {};
    items.forEach(function (item) {
      if (!state.knownQueue[item.id]) {
        state.knownQueue[item.id] = true;
        if (!first) notify(item);
      }
    });
    state.queue = items;
    state.queueFetchedAt = Date.now();
    renderQueue();
  }

  function renderQueue() {
    var list = $("queue");
    var taken = {};
    list.querySelectorAll(".queue-item.taken").forEach(function (li) { taken[li.dataset.id] = li; });
    list.textContent = "";
    state.queue.forEach(function (item) {
      var li = clone("tpl-queue-item");
      li.dataset.id = item.id;
      li.querySelector(".priority").hidden = item.priority !== "high";
      if (item.priority === "high") li.classList.add("high");
      li.querySelector(".lang").textContent = langLabel(item.language);
      li.querySelector(".offline").hidden = !item.offline;
      // An offline ticket's badge already says why it is there; its e-mail says who to answer.
      li.querySelector(".qi-reason").textContent = item.offline && item.email ? item.email : reasonLabel(item.reason);
      channelBadge(li.querySelector(".channel"), item);
      li.querySelector(".qi-wait").dataset.wait = item.wait_seconds || 0;
      li.querySelector(".qi-question").textContent = item.first_question || "";
      markSla(li.querySelector(".qi-sla"), item.sla, li);
      var claim = li.querySelector(".claim");
      claim.setAttribute("aria-label", T.claim + ": " + (item.first_question || item.id));
      claim.addEventListener("click", function () { claimConversation(item.id, li); });
      list.appendChild(li);
    });
    // A conversation someone else took stays visible a moment, with the reason it cannot be claimed.
    Object.keys(taken).forEach(function (id) {
      if (!list.querySelector('[data-id="' + CSS.escape(id) + '"]')) list.appendChild(taken[id]);
    });
    $("queue-count").textContent = String(state.queue.length);
    $("queue-empty").hidden = list.children.length > 0;
    tickWaits();
  }

  function tickWaits() {
    var elapsed = (Date.now() - state.queueFetchedAt) / 1000;
    document.querySelectorAll("#queue .qi-wait[data-wait]").forEach(function (span) {
      span.textContent = fmt("waiting_for", { t: C.duration(Number(span.dataset.wait) + elapsed) });
    });
    tickSla();
  }

  // ---- SLA clocks (handoff/sla.py) -----------------------------------------------------------
  // The server says how many support-hours seconds are left and whether the clock runs now; the
  // page counts down from there only while it runs (closed hours do not count). A breach is said
  // in words and with a mark, not only in colour.

  function markSla(node, sla, holder) {
    var clock = sla && (sla.first_response && !sla.first_response.stopped ? sla.first_response :
      sla.resolution && !sla.resolution.stopped ? sla.resolution : null);
    if (!node) return;
    node.hidden = !clock;
    if (!clock) { delete node.dataset.left; if (holder) holder.classList.remove("sla-breached"); return; }
    node.dataset.kind = clock === sla.first_response ? "first" : "resolution";
    node.dataset.left = clock.seconds_left;
    node.dataset.running = clock.running ? "1" : "";
    node.dataset.at = Date.now();
    renderSla(node, holder);
  }

  function renderSla(node, holder) {
    var left = Number(node.dataset.left);
    if (node.dataset.running) left -= (Date.now() - Number(node.dataset.at)) / 1000;
    var late = left < 0, kind = node.dataset.kind;
    node.textContent = fmt(kind === "first" ? (late ? "sla_first_late" : "sla_first_left")
                                            : (late ? "sla_resolution_late" : "sla_resolution_left"),
                           { t: C.duration(Math.abs(left)) }) + (node.dataset.running ? "" : " " + T.sla_paused);
    node.dataset.sla = late ? "breached" : "ok";
    node.classList.toggle("sla-breached", late);
    if (holder) holder.classList.toggle("sla-breached", late);
  }

  function tickSla() {
    document.querySelectorAll(".sla[data-left]").forEach(function (node) {
      renderSla(node, node.closest(".queue-item"));
    });
  }

  // ---- presence (handoff/presence.py) ---------------------------------------------------------
  // The agent's own choice in the header; a heartbeat every 30 s tells the service the console is
  // still open (without it for PRESENCE_TIMEOUT_SECONDS the agent counts as offline).

  function showPresence(value) {
    if (!value) return;
    $("presence-select").value = value;
    $("presence-dot").dataset.state = value;
  }

  function bindPresence() {
    $("presence-select").addEventListener("change", function () {
      var chosen = $("presence-select").value;
      api("POST", "/api/agent/presence", { state: chosen }).then(function (res) {
        showPresence(res.presence);
      }).catch(C.showError);
    });
    function beat() {
      api("POST", "/api/agent/presence/heartbeat", {}).then(function (res) { showPresence(res.presence); })
        .catch(function () { /* the connection banner already says the service is unreachable */ });
    }
    beat();
    setInterval(beat, 30000);
  }

  function claimConversation(id, li) {
    var button = li.querySelector(".claim");
    button.disabled = true;
    // The claim's own live event may arrive before its answer: it is not a transfer to announce.
    if (state.knownMine) state.knownMine[id] = true;
    api("POST", "/api/agent/conversations/" + encodeURIComponent(id) + "/claim", {}).then(function () {
      li.remove();
      state.queue = state.queue.filter(function (q) { return q.id !== id; });
      $("queue-count").textContent = String(state.queue.length);
      openConversation(id, true);
      loadMine();
    }, function (err) {
      if (state.knownMine) delete state.knownMine[id];
      if (err.status === 409 && err.code === "agent_at_capacity") {
        button.disabled = false;
        C.toast(T.at_capacity, "error");
        return;
      }
      if (err.status === 409 || err.status === 404) {
        li.classList.add("taken");
        li.querySelector(".qi-taken").hidden = false;
        button.hidden = true;
        C.toast(T.claimed_by_other, "error");
        setTimeout(function () { li.remove(); $("queue-empty").hidden = $("queue").children.length > 0; }, 6000);
        return;
      }
      button.disabled = false;
      C.showError(err);
    });
  }

  // ---- my conversations -------------------------------------------------------------------

  function loadMine() {
    return api("GET", "/api/agent/conversations?mine=1").then(function (res) {
      var list = res.conversations || [];
      var first = state.knownMine === undefined;
      if (first) state.knownMine = {};
      list.forEach(function (conv) {
        if (!state.knownMine[conv.id] && !first && !state.conversations[conv.id]) {
          // Transferred to this agent by someone else: open it beside the others and say so.
          openConversation(conv.id, false);
          beep();
          C.toast(T.new_handoff + " (" + langLabel(conv.language) + ")", "ok");
        }
        state.knownMine[conv.id] = true;
      });
      state.mine = list;
      renderMine();
    }).catch(C.showError);
  }

  function renderMine() {
    var list = $("mine");
    list.textContent = "";
    state.mine.forEach(function (conv) {
      var li = clone("tpl-mine-item"), button = li.querySelector("button");
      li.querySelector(".lang").textContent = langLabel(conv.language);
      li.querySelector(".mi-text").textContent = conv.first_question || reasonLabel(conv.reason) || "#" + conv.id.slice(0, 6);
      channelBadge(li.querySelector(".channel"), conv);
      var open = state.conversations[conv.id];
      if (open && open.unread) { var u = li.querySelector(".unread"); u.hidden = false; u.textContent = String(open.unread); }
      button.addEventListener("click", function () { openConversation(conv.id, true); });
      list.appendChild(li);
    });
    $("mine-count").textContent = String(state.mine.length);
    $("mine-empty").hidden = state.mine.length > 0;
  }

  // ---- tabs -------------------------------------------------------------------------------

  function saveTabs() {
    try { sessionStorage.setItem("tsunagi-console-tabs", JSON.stringify(Object.keys(state.conversations))); } catch (e) { /* ignore */ }
  }

  function openConversation(id, focus) {
    if (state.conversations[id]) {
      activate(id, focus);
      return Promise.resolve(state.conversations[id]);
    }
    var tab = clone("tpl-tab"), panel = clone("tpl-conversation");
    var domId = "conv-" + String(id).replace(/[^a-zA-Z0-9_-]/g, "");
    tab.id = "tab-" + domId;
    panel.id = "panel-" + domId;
    tab.setAttribute("aria-controls", panel.id);
    panel.setAttribute("aria-labelledby", tab.id);
    panel.hidden = true;
    var conv = { id: id, tab: tab, panel: panel, seen: {}, unread: 0, data: null };
    state.conversations[id] = conv;
    tab.querySelector(".tab-label").textContent = "#" + String(id).slice(0, 6);
    tab.addEventListener("click", function (e) {
      if (e.target.classList.contains("tab-close")) closeTab(id);
      else activate(id, false);
    });
    tab.addEventListener("keydown", function (e) { onTabKey(e, id); });
    $("tabs").appendChild(tab);
    $("panels").appendChild(panel);
    bindPanel(conv);
    saveTabs();
    activate(id, focus);
    return refreshConversation(conv).then(function () { return conv; });
  }

  function onTabKey(e, id) {
    var ids = Object.keys(state.conversations), i = ids.indexOf(id);
    if (e.key === "ArrowRight" || e.key === "ArrowLeft") {
      e.preventDefault();
      var next = ids[(i + (e.key === "ArrowRight" ? 1 : ids.length - 1)) % ids.length];
      activate(next, false);
      state.conversations[next].tab.focus();
    } else if (e.key === "Delete") {
      closeTab(id);
    }
  }

  function activate(id, focusReply) {
    state.active = id;
    Object.keys(state.conversations).forEach(function (key) {
      var c = state.conversations[key], on = key === id;
      c.tab.setAttribute("aria-selected", on ? "true" : "false");
      c.tab.tabIndex = on ? 0 : -1;
      c.panel.hidden = !on;
      if (on) { c.unread = 0; renderUnread(c); }
    });
    $("empty-state").hidden = !!id;
    var conv = state.conversations[id];
    if (conv) {
      scrollTranscript(conv);
      if (focusReply) {
        var text = conv.panel.querySelector(".reply-text");
        if (!text.disabled) text.focus(); else conv.panel.focus();
      }
    }
  }

  function closeTab(id) {
    var conv = state.conversations[id];
    if (!conv) return;
    conv.tab.remove();
    conv.panel.remove();
    delete state.conversations[id];
    saveTabs();
    var ids = Object.keys(state.conversations);
    activate(ids.length ? ids[ids.length - 1] : null, false);
    if (ids.length) state.conversations[ids[ids.length - 1]].tab.focus();
  }

  function renderUnread(conv) {
    var badge = conv.tab.querySelector(".unread");
    badge.hidden = !conv.unread;
    badge.textContent = String(conv.unread || "");
  }

  // ---- one conversation -------------------------------------------------------------------

  function convPath(id, suffix) {
    return "/api/agent/conversations/" + encodeURIComponent(id) + (suffix || "");
  }

  function refreshConversation(conv) {
    return api("GET", convPath(conv.id)).then(function (res) {
      var data = res.conversation || res;
      conv.data = data;
      var messages = res.transcript || res.messages || data.transcript || data.messages || [];
      messages.forEach(function (m) { addTranscript(conv, m, true); });
      var firstCustomer = messages.filter(function (m) { return m.sender === "customer"; })[0];
      if (firstCustomer) {
        var label = firstCustomer.text.length > 16 ? firstCustomer.text.slice(0, 15) + "…" : firstCustomer.text;
        conv.tab.querySelector(".tab-label").textContent = label;
        conv.tab.title = firstCustomer.text;
      }
      renderNotes(conv, res.notes || data.notes || []);
      renderHeader(conv);
      renderDetails(conv);
      // The contact panel (console-contacts.js) loads the customer's history beside it.
      conv.panel.dispatchEvent(new CustomEvent("tsunagi:conversation", { bubbles: true, detail: { id: conv.id } }));
      loadCanned(data.language).then(function (list) { fillCanned(conv, list); });
      loadSuggestions(conv);
      scrollTranscript(conv);
    }).catch(function (err) {
      if (err.status === 404 || err.status === 403) closeTab(conv.id);
      C.showError(err);
    });
  }

  function isMine(conv) {
    var d = conv.data || {};
    var agentId = d.agent_id !== undefined ? d.agent_id : d.agent && d.agent.id;
    return d.status === "assigned" && (agentId === undefined || agentId === null || agentId === C.agent.id);
  }

  function renderHeader(conv) {
    var d = conv.data || {}, p = conv.panel;
    // The name the channel gave (LINE's profile, an e-mail's display name), else the conversation's number.
    p.querySelector(".conv-name").textContent = d.customer_name || T.customer + " #" + String(conv.id).slice(0, 6);
    channelBadge(p.querySelector(".conv-title .channel"), d);
    p.querySelectorAll(".lang").forEach(function (n) { n.textContent = langLabel(d.language); });
    conv.tab.querySelector(".lang").textContent = langLabel(d.language);
    var status = p.querySelector(".status");
    status.textContent = statusLabel(d.status);
    status.dataset.status = d.status || "";
    p.querySelector(".conv-head .priority").hidden = d.priority !== "high";
    if (d.sla !== undefined) markSla(p.querySelector(".conv-sla"), d.sla, null);
    var mine = isMine(conv);
    conv.tab.classList.toggle("closed", !mine);
    p.querySelectorAll(".conv-actions button, .conv-actions select, .reply textarea, .reply button, .reply select")
      .forEach(function (n) { n.disabled = !mine; });
  }

  // A conversation's channel (LINE, e-mail) as a badge; the widget's ("web") needs none.
  function channelBadge(node, item) {
    if (!node) return;
    var channel = item.channel || "web";
    node.hidden = channel === "web";
    node.textContent = T["channel_" + channel] || channel;
    node.dataset.channel = channel;
    node.title = [item.customer_name, item.channel_address].filter(Boolean).join(" · ");
  }

  function renderDetails(conv) {
    var d = conv.data || {}, p = conv.panel;
    var channel = d.channel || "web";
    p.querySelector(".d-channel").textContent = (T["channel_" + channel] || channel) +
      (d.channel_address ? " · " + (d.customer_name ? d.customer_name + " · " : "") + d.channel_address : "");
    p.querySelector(".d-reason").textContent = reasonLabel(d.handoff_reason || d.reason) || "—";
    p.querySelector(".d-started").textContent = d.created_at ? C.dateTime(d.created_at) : "—";
    var page = p.querySelector(".d-page");
    page.textContent = "";
    if (d.page_url && /^https?:\/\//i.test(d.page_url)) {
      page.appendChild(el("a", { href: d.page_url, target: "_blank", rel: "noopener noreferrer", text: d.page_url }));
    } else {
      page.textContent = d.page_url || "—";
    }
    var turns = p.querySelector(".turns");
    turns.textContent = "";
    (d.handoff_turns || d.turns || []).forEach(function (turn) {
      turns.appendChild(el("li", null, [
        el("span", { class: "turn-text", text: turn.text || "" }),
        nluChip({ intent: turn.intent, confidence: turn.confidence, intent_ranking: turn.intent_ranking })
      ]));
    });
    if (!turns.children.length) turns.appendChild(el("li", { class: "muted", text: "—" }));
  }

  function nluOf(m) {
    if (m.nlu) return { intent: m.nlu.intent && m.nlu.intent.name !== undefined ? m.nlu.intent.name : m.nlu.intent,
      confidence: m.nlu.intent && m.nlu.intent.confidence !== undefined ? m.nlu.intent.confidence : m.nlu.confidence,
      intent_ranking: m.nlu.intent_ranking || m.nlu.ranking };
    if (m.nlu_intent) return { intent: m.nlu_intent, confidence: m.nlu_confidence, intent_ranking: m.nlu_ranking };
    return null;
  }

  function nluChip(nlu) {
    if (!nlu || !nlu.intent) return el("span", { class: "nlu none", text: T.no_nlu });
    var conf = typeof nlu.confidence === "number" ? nlu.confidence : null;
    var level = conf === null ? "" : conf >= 0.7 ? "high" : conf >= 0.4 ? "mid" : "low";
    var fallback = nlu.intent === "nlu_fallback";
    var title = (nlu.intent_ranking || []).slice(0, 4).map(function (r) {
      return r.name + " " + (typeof r.confidence === "number" ? r.confidence.toFixed(2) : "");
    }).join("\n");
    var bar = el("span", { class: "conf-bar", "aria-hidden": "true" }, [el("i")]);
    if (conf !== null) bar.firstChild.style.width = Math.round(conf * 100) + "%";
    return el("span", { class: "nlu " + level + (fallback ? " fallback" : ""), title: title || null }, [
      el("span", { class: "sr-only", text: T.intent + ": " }),
      el("span", { class: "intent", text: fallback ? nlu.intent + " · " + T.fallback : nlu.intent }),
      bar,
      el("span", { class: "sr-only", text: T.confidence + ": " }),
      el("span", { class: "conf", text: conf === null ? "–" : conf.toFixed(2) })
    ]);
  }

  function addTranscript(conv, m, quiet) {
    if (!m || m.seq === undefined || conv.seen[m.seq]) return;
    var sender = m.sender || "system";
    var who = sender === "customer" ? T.customer : sender === "bot" ? T.bot :
      sender === "agent" ? (m.agent_name || T.agent) : T.system;
    var li = el("li", { class: "tm tm-" + sender, "data-seq": String(m.seq) }, [
      el("div", { class: "tm-meta" }, [el("span", { class: "tm-who", text: who }), el("time", { text: m.created_at ? C.clock(m.created_at) : "" })]),
      // A quick-reply click shows the button's title; the payload the bot got is the tooltip.
      el("div", { class: "tm-bubble", text: m.display_text || m.text || "", title: m.display_text ? m.text : null })
    ]);
    if (m.buttons && m.buttons.length) {
      li.appendChild(el("div", { class: "tm-buttons" }, m.buttons.map(function (b) {
        return el("span", { class: "tm-button", text: b.title, title: b.payload });
      })));
    }
    // Messages written while a person handles the chat never went to the bot: no reading to show.
    if (sender === "customer" && nluOf(m)) li.appendChild(nluChip(nluOf(m)));
    var list = conv.panel.querySelector(".transcript"), before = null;
    for (var i = list.children.length - 1; i >= 0; i--) {
      if (Number(list.children[i].dataset.seq) > m.seq) before = list.children[i];
      else break;
    }
    list.insertBefore(li, before);
    conv.seen[m.seq] = true;
    if (sender === "customer") showCustomerTyping(conv, false);
    if (!quiet) {
      scrollTranscript(conv);
      if (state.active !== conv.id || document.hidden) {
        if (sender === "customer") { conv.unread += 1; renderUnread(conv); }
      }
    }
  }

  function scrollTranscript(conv) {
    var list = conv.panel.querySelector(".transcript");
    list.scrollTop = list.scrollHeight;
  }

  function showCustomerTyping(conv, on) {
    var line = conv.panel.querySelector(".customer-typing");
    line.hidden = !on;
    clearTimeout(conv.typingTimer);
    if (on) conv.typingTimer = setTimeout(function () { line.hidden = true; }, 8000);
  }

  // Merges: a refresh that was sent before a note was added must not make the note disappear.
  function renderNotes(conv, notes) {
    notes.forEach(function (n) { appendNote(conv, n); });
    var list = conv.panel.querySelector(".notes");
    if (!list.children.length) list.appendChild(el("li", { class: "muted no-notes", text: T.no_notes }));
  }

  function appendNote(conv, n) {
    conv.noteIds = conv.noteIds || {};
    if (n.id !== undefined) {
      if (conv.noteIds[n.id]) return;      // our own note comes back on the stream as well
      conv.noteIds[n.id] = true;
    }
    var list = conv.panel.querySelector(".notes");
    var empty = list.querySelector(".no-notes");
    if (empty) empty.remove();
    list.appendChild(el("li", { class: "note" }, [
      el("div", { class: "note-meta", text: (n.agent_name || (n.agent && n.agent.name) || "") + (n.created_at ? " · " + C.dateTime(n.created_at) : "") }),
      el("div", { class: "note-text", text: n.text || "" })
    ]));
  }

  function loadCanned(lang) {
    lang = lang || C.config.lang;
    if (state.canned[lang]) return Promise.resolve(state.canned[lang]);
    return api("GET", "/api/agent/canned-replies?language=" + encodeURIComponent(lang)).then(function (res) {
      state.canned[lang] = res.canned_replies || res.replies || res.items || [];
      return state.canned[lang];
    }).catch(function () { return []; });
  }

  function fillCanned(conv, list) {
    var select = conv.panel.querySelector(".canned-select");
    while (select.options.length > 1) select.remove(1);
    list.forEach(function (r) { select.appendChild(el("option", { value: String(r.id), text: r.title })); });
    select.parentNode.hidden = !list.length;
  }

  // ---- suggested answers (handoff/agent_assist.py) -----------------------------------------
  // The FAQ answers closest to the customer's question, fetched when the conversation opens and
  // when a customer message arrives; "Insert" puts one in the reply box, editable before sending,
  // and the reply then names its topic (counted as used; the others as ignored).

  function loadSuggestions(conv) {
    var asked = (conv.suggestionsAsked || 0) + 1;
    conv.suggestionsAsked = asked;
    return api("GET", convPath(conv.id, "/suggestions")).then(function (res) {
      if (conv.suggestionsAsked === asked) renderSuggestions(conv, res);   // a later answer wins
    }).catch(function () { /* suggestions are a help, never in the way */ });
  }

  function renderSuggestions(conv, res) {
    var box = conv.panel.querySelector(".assist"), list = box.querySelector(".assist-list");
    var text = conv.panel.querySelector(".reply-text");
    list.textContent = "";
    (res.suggestions || []).forEach(function (s) {
      var insert = el("button", { type: "button", class: "ghost small assist-insert", text: T.assist_insert,
        "aria-label": fmt("assist_insert_label", { title: s.title }), "data-topic": s.topic });
      insert.disabled = !isMine(conv);
      insert.addEventListener("click", function () {
        text.value = text.value.trim() ? text.value.replace(/\s*$/, "\n") + s.text : s.text;
        conv.insertedTopic = s.topic;
        text.focus();
        text.dispatchEvent(new Event("input"));
      });
      list.appendChild(el("li", { class: "assist-item", "data-topic": s.topic }, [
        el("div", { class: "assist-head" }, [el("strong", { class: "assist-topic", text: s.title }), insert]),
        el("p", { class: "assist-text", text: s.text })
      ]));
    });
    box.hidden = !list.children.length;
    conv.panel.setAttribute("data-suggestions-for", String(res.message_id || ""));
  }

  function sendTyping(conv, typing) {
    api("POST", convPath(conv.id, "/typing"), { typing: typing }).catch(function () { /* cosmetic */ });
  }

  function bindPanel(conv) {
    var p = conv.panel, id = conv.id;
    var text = p.querySelector(".reply-text"), form = p.querySelector(".reply");
    var replyId = "reply-" + p.id, noteId = "note-" + p.id;
    text.id = replyId;
    p.querySelector(".reply-label").setAttribute("for", replyId);
    p.querySelector(".note-text").id = noteId;
    p.querySelector(".note-label").setAttribute("for", noteId);
    var composing = false, lastTyping = 0, stopTimer = null;

    text.addEventListener("compositionstart", function () { composing = true; });
    text.addEventListener("compositionend", function () { composing = false; });
    text.addEventListener("keydown", function (e) {
      if (e.key !== "Enter" || e.shiftKey || e.altKey) return;
      if (e.isComposing || composing || e.keyCode === 229) return;   // Enter confirms an IME conversion
      e.preventDefault();
      form.requestSubmit();
    });
    text.addEventListener("input", function () {
      if (!text.value.trim()) conv.insertedTopic = null;   // the inserted answer was deleted
      var now = Date.now();
      if (now - lastTyping > 2500) { lastTyping = now; sendTyping(conv, true); }
      clearTimeout(stopTimer);
      stopTimer = setTimeout(function () { lastTyping = 0; sendTyping(conv, false); }, 3000);
    });
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var value = text.value.trim();
      if (!value) return;
      var button = form.querySelector(".send");
      button.disabled = true;
      clearTimeout(stopTimer);
      lastTyping = 0;
      var body = { text: value };
      if (conv.insertedTopic) body.suggestion_topic = conv.insertedTopic;
      api("POST", convPath(id, "/messages"), body).then(function (res) {
        text.value = "";
        conv.insertedTopic = null;
        addTranscript(conv, res.message || res, false);
      }).catch(C.showError).then(function () { button.disabled = !isMine(conv); text.focus(); });
    });

    p.querySelector(".canned-select").addEventListener("change", function (e) {
      var lang = (conv.data && conv.data.language) || C.config.lang;
      var reply = (state.canned[lang] || []).filter(function (r) { return String(r.id) === e.target.value; })[0];
      e.target.value = "";
      if (!reply) return;
      text.value = text.value.trim() ? text.value.replace(/\s*$/, "\n") + reply.text : reply.text;
      text.focus();
      text.dispatchEvent(new Event("input"));
    });

    p.querySelector(".note-form").addEventListener("submit", function (e) {
      e.preventDefault();
      var area = p.querySelector(".note-text"), value = area.value.trim();
      if (!value) return;
      api("POST", convPath(id, "/notes"), { text: value }).then(function (res) {
        area.value = "";
        appendNote(conv, (res && (res.note || res)) || { text: value });
      }).catch(C.showError);
    });

    var transferSelect = p.querySelector(".transfer-select");
    loadAgents().then(function (agents) {
      agents.filter(function (a) { return a.id !== C.agent.id && a.active !== false; }).forEach(function (a) {
        transferSelect.appendChild(el("option", { value: String(a.id), text: a.name + (a.role ? " (" + a.role + ")" : "") }));
      });
    });
    p.querySelector(".transfer").addEventListener("click", function () {
      var agentId = Number(transferSelect.value);
      if (!agentId) { transferSelect.focus(); return; }
      var name = transferSelect.options[transferSelect.selectedIndex].textContent;
      act(conv, "/transfer", { agent_id: agentId }, fmt("transferred", { name: name }));
    });
    p.querySelector(".handback").addEventListener("click", function () { act(conv, "/handback", {}, T.handed_back); });
    p.querySelector(".resolve").addEventListener("click", function () { act(conv, "/resolve", {}, T.resolved); });
  }

  function act(conv, suffix, body, done) {
    api("POST", convPath(conv.id, suffix), body).then(function (res) {
      var data = res && (res.conversation || res);
      // The answer names the owner as agent.id: an older live event's agent_id must not outlive it.
      if (data && data.status) conv.data = Object.assign({}, conv.data, data, { agent_id: data.agent ? data.agent.id : null });
      else if (suffix === "/resolve") conv.data.status = "resolved";
      else if (suffix === "/handback") conv.data.status = "bot";
      else if (suffix === "/transfer") conv.data.agent_id = body.agent_id;
      renderHeader(conv);
      C.toast(done, "ok");
      loadMine();
    }).catch(C.showError);
  }

  function loadAgents() {
    if (!state.agents) {
      state.agents = api("GET", "/api/agent/agents").then(function (res) {
        return res.agents || res.items || [];
      }).catch(function () { return []; });
    }
    return state.agents;
  }

  // ---- live events ------------------------------------------------------------------------

  function conversationIdOf(data) {
    return data.conversation_id || (data.conversation && data.conversation.id) || (data.message && data.message.conversation_id);
  }

  function reloadAll() {
    loadQueue();
    loadMine();
    Object.keys(state.conversations).forEach(function (id) { refreshConversation(state.conversations[id]); });
  }

  function startStream() {
    var queueTimer = null;
    function queueChanged(data) {
      if (data && Array.isArray(data.queue) && !$("queue-language").value) { setQueue(data.queue); return; }
      clearTimeout(queueTimer);
      queueTimer = setTimeout(loadQueue, 50);
    }
    C.stream("/api/agent/stream", {
      queue: queueChanged,
      message: function (data) {
        var conv = state.conversations[conversationIdOf(data)], m = data.message || data;
        if (conv) addTranscript(conv, m, false);
        if (conv && m.sender === "customer") loadSuggestions(conv);
      },
      status: function (data) {
        var id = conversationIdOf(data), conv = state.conversations[id];
        if (conv) {
          conv.data = Object.assign({}, conv.data, data.conversation || data, { id: id });
          if (data.status) conv.data.status = data.status;
          renderHeader(conv);
        }
        loadMine();
      },
      typing: function (data) {
        var conv = state.conversations[conversationIdOf(data)];
        if (conv && (data.sender || "customer") === "customer") showCustomerTyping(conv, !!data.typing);
      },
      note: function (data) {
        var conv = state.conversations[conversationIdOf(data)];
        if (conv) appendNote(conv, data.note || data);
      },
      // The server may have dropped live events (its broker reconnected): re-read everything.
      resync: reloadAll
    }, function (s) {
      $("conn-banner").hidden = s !== "lost";
      if (s === "recovered") reloadAll();   // re-read what may have changed while the stream was down
    });
  }

  // ---- canned-reply editor (admins) -------------------------------------------------------

  function bindCannedAdmin() {
    var dialog = $("canned-dialog"), form = $("canned-form");
    function resetForm() {
      $("canned-id").value = "";
      $("canned-title").value = "";
      $("canned-text").value = "";
      $("canned-error").textContent = "";
      $("canned-form-title").textContent = T.canned_new;
    }
    function refresh() {
      state.canned = {};
      return Promise.all([loadCanned("ja"), loadCanned("en")]).then(function (lists) {
        var list = $("canned-list");
        list.textContent = "";
        lists[0].concat(lists[1]).forEach(function (r) {
          var edit = el("button", { type: "button", class: "ghost small", text: T.edit });
          var del = el("button", { type: "button", class: "ghost small danger", text: T.delete });
          edit.addEventListener("click", function () {
            $("canned-id").value = r.id;
            $("canned-language").value = r.language;
            $("canned-title").value = r.title;
            $("canned-text").value = r.text;
            $("canned-form-title").textContent = T.edit + ": " + r.title;
            $("canned-title").focus();
          });
          del.addEventListener("click", function () {
            if (del.dataset.armed !== "1") { del.dataset.armed = "1"; del.textContent = T.confirm_delete; return; }
            api("DELETE", "/api/admin/canned-replies/" + r.id).then(refresh).then(refreshOpenCanned).catch(C.showError);
          });
          list.appendChild(el("li", { class: "canned-row" }, [
            el("span", { class: "badge lang", text: langLabel(r.language) }),
            el("div", { class: "canned-body" }, [el("strong", { text: r.title }), el("p", { text: r.text })]),
            el("div", { class: "canned-actions" }, [edit, del])
          ]));
        });
      });
    }
    function refreshOpenCanned() {
      Object.keys(state.conversations).forEach(function (id) {
        var conv = state.conversations[id];
        loadCanned((conv.data && conv.data.language) || C.config.lang).then(function (list) { fillCanned(conv, list); });
      });
    }
    $("canned-admin").addEventListener("click", function () {
      resetForm();
      refresh().then(function () { dialog.showModal(); $("canned-title").focus(); });
    });
    $("canned-close").addEventListener("click", function () { dialog.close(); });
    $("canned-cancel").addEventListener("click", resetForm);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var id = $("canned-id").value;
      var body = { language: $("canned-language").value, title: $("canned-title").value.trim(), text: $("canned-text").value.trim() };
      if (!body.title || !body.text) { $("canned-error").textContent = T.canned_name + " / " + T.canned_text; return; }
      api(id ? "PUT" : "POST", "/api/admin/canned-replies" + (id ? "/" + id : ""), body)
        .then(function () { resetForm(); return refresh(); })
        .then(refreshOpenCanned)
        .catch(function (err) { $("canned-error").textContent = err.message; });
    });
  }

  // ---- start ------------------------------------------------------------------------------

  C.signIn().then(function () {
    $("app-view").hidden = false;
    bindAlertsButton();
    bindCannedAdmin();
    bindPresence();
    $("queue-language").addEventListener("change", loadQueue);
    setInterval(tickWaits, 1000);
    startStream();
    var restored = [];
    try { restored = JSON.parse(sessionStorage.getItem("tsunagi-console-tabs") || "[]"); } catch (e) { /* ignore */ }
    return Promise.all([loadQueue(), loadMine()]).then(function () {
      restored.forEach(function (id) { openConversation(id, false); });
    });
  }).catch(C.showError);

  window.TsunagiConsole = { open: openConversation, state: state };
})();
