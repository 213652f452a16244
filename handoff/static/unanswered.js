/* Unanswered questions (editors): what customers asked that the FAQ did not settle, grouped by
 * meaning (/api/editor/unanswered), with the changes an editor makes from a group: add its
 * questions as examples of a topic, draft a new topic, or take them off the list. Below, every
 * message the bot did not understand, with the intents it considered (/api/admin/unanswered). */
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

  function query() {
    var params = [];
    if ($("range-from").value) params.push("from=" + encodeURIComponent($("range-from").value));
    if ($("range-to").value) params.push("to=" + encodeURIComponent($("range-to").value));
    if ($("filter-language").value) params.push("language=" + $("filter-language").value);
    return params.length ? "?" + params.join("&") : "";
  }

  function topicLabel(topic) {
    var title = topic.title || {};
    return (title[C.config.lang] || title.ja || title.en || topic.id) + " (" + topic.id + ")";
  }

  function topicSelect(topics, selected) {
    return el("select", { class: "topic-select", "aria-label": T.add_to_topic }, topics.map(function (t) {
      return el("option", { value: t.id, selected: t.id === selected, text: topicLabel(t) });
    }));
  }

  function field(label, input, full) {
    return el("label", { class: "field" + (full ? " full" : "") }, [label, input]);
  }

  function showChange(card, change) {
    var note = change.files.length
      ? C.fmt("change_saved", { files: change.files.join(", ") }) : T.nothing_added;
    var parts = [el("p", { class: "change-note", text: note })];
    if (change.skipped && change.skipped.length) {
      parts.push(el("p", { class: "hint", text: C.fmt("skipped", { items: change.skipped.map(function (s) {
        return s.text + (s.intent ? " → " + s.intent : "");
      }).join(", ") }) }));
    }
    if (change.diff) parts.push(el("pre", { class: "change-diff", text: change.diff }));
    var box = el("div", { class: "group done", "data-handled": "1" }, parts);
    card.replaceWith(box);
  }

  function renderGroup(group, topics, categories) {
    var checks = group.texts.map(function (text) {
      return { box: el("input", { type: "checkbox", checked: true, value: text }), text: el("span", { class: "example", text: text }) };
    });
    var nearest = group.nearest_topic;
    var head = el("div", { class: "group-head" }, [
      el("span", { class: "count", text: C.fmt("group_count", { n: group.count }) })
    ].concat(Object.keys(group.languages).map(function (lang) {
      return el("span", { class: "badge lang", text: lang.toUpperCase() + " " + group.languages[lang] });
    })).concat(Object.keys(group.reasons).map(function (reason) {
      return el("span", { class: "badge reason", text: (T["reason_" + reason] || reason) + " " + group.reasons[reason] });
    })).concat(nearest ? [el("span", { class: "nearest" }, [T.nearest_topic + ": ",
      el("strong", { text: topicLabel(nearest) }), " · " + T.similarity + " " + nearest.similarity.toFixed(2)])] : []));
    // What agents wrote themselves to these questions (reason agent_answered): material for an answer.
    var replies = (group.examples || []).filter(function (e) { return e.agent_reply; });
    var replyOf = {};
    replies.forEach(function (e) { if (!(e.text in replyOf)) replyOf[e.text] = e.agent_reply; });
    var list = el("ul", { class: "group-examples" }, checks.map(function (c) {
      var reply = replyOf[c.box.value];
      return el("li", null, [el("label", null, [c.box, c.text])].concat(reply ? [
        el("p", { class: "agent-reply" }, [el("span", { class: "agent-reply-label", text: T.agent_reply + ": " }), reply])] : []));
    }));
    var chosen = function () {
      return checks.filter(function (c) { return c.box.checked; }).map(function (c) { return c.box.value; });
    };
    var select = topicSelect(topics, nearest && nearest.id);
    var card = el("article", { class: "group", "data-group": group.id });
    var act = function (path, body, button) {
      button.disabled = true;
      return C.api("POST", path, body).then(function (res) {
        if (res.change) showChange(card, res.change);
        else { card.remove(); C.toast(C.fmt("dismissed", { n: res.handled })); }
        load();
      }).catch(function (err) { button.disabled = false; C.showError(err); });
    };
    var addButton = el("button", { type: "button", class: "primary add-examples", text: T.add });
    addButton.addEventListener("click", function () {
      act("/api/editor/unanswered/add-examples", { topic: select.value, examples: chosen(),
        message_ids: group.message_ids, search_ids: group.search_ids || [] }, addButton);
    });
    var dismissButton = el("button", { type: "button", class: "ghost dismiss", text: T.dismiss });
    dismissButton.addEventListener("click", function () {
      act("/api/editor/unanswered/dismiss", { message_ids: group.message_ids, search_ids: group.search_ids || [] }, dismissButton);
    });
    var form = newTopicForm(group, categories, chosen, act);
    var draftButton = el("button", { type: "button", class: "ghost draft-topic", text: T.new_topic, "aria-expanded": "false" });
    draftButton.addEventListener("click", function () {
      form.hidden = !form.hidden;
      draftButton.setAttribute("aria-expanded", String(!form.hidden));
    });
    [head, el("p", { class: "hint", text: T.examples_checked }), list,
     el("div", { class: "group-actions" }, [el("span", { text: T.add_to_topic }), select, addButton, draftButton, dismissButton]),
     form].forEach(function (n) { card.appendChild(n); });
    return card;
  }

  function newTopicForm(group, categories, chosen, act) {
    var inputs = {
      id: el("input", { type: "text", name: "id", pattern: "[a-z][a-z0-9_]{1,60}", required: true }),
      category: el("select", { name: "category" }, categories.map(function (c) { return el("option", { value: c, text: c }); })),
      title_ja: el("input", { type: "text", name: "title_ja", maxlength: "60", required: true }),
      title_en: el("input", { type: "text", name: "title_en", maxlength: "60", required: true }),
      answer_ja: el("textarea", { name: "answer_ja", required: true }),
      answer_en: el("textarea", { name: "answer_en", required: true }),
      offer_human: el("input", { type: "checkbox", name: "offer_human" })
    };
    // An agent's own reply in a language starts that language's answer (the editor rewrites it).
    (group.examples || []).forEach(function (e) {
      var box = inputs["answer_" + e.language];
      if (e.agent_reply && box && !box.value) box.value = e.agent_reply;
    });
    var submit = el("button", { type: "submit", class: "primary", text: T.create_topic });
    var form = el("form", { class: "topic-form", hidden: true }, [
      field(T.topic_id, inputs.id), field(T.category, inputs.category),
      field(T.title_ja, inputs.title_ja), field(T.title_en, inputs.title_en),
      field(T.answer_ja, inputs.answer_ja, true), field(T.answer_en, inputs.answer_en, true),
      el("label", { class: "check-field" }, [inputs.offer_human, T.offer_human]),
      el("div", { class: "form-actions" }, [submit])
    ]);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      act("/api/editor/unanswered/new-topic", {
        topic: { id: inputs.id.value.trim(), category: inputs.category.value,
                 title: { ja: inputs.title_ja.value, en: inputs.title_en.value },
                 answer: { ja: inputs.answer_ja.value, en: inputs.answer_en.value },
                 offer_human: inputs.offer_human.checked },
        examples: chosen(), message_ids: group.message_ids, search_ids: group.search_ids || [] }, submit);
    });
    return form;
  }

  function loadGroups() {
    $("groups-status").hidden = false;
    $("groups-status").textContent = T.loading_groups;
    return C.api("GET", "/api/editor/unanswered" + query()).then(function (res) {
      var box = $("groups");
      box.textContent = "";
      res.groups.forEach(function (g) { box.appendChild(renderGroup(g, res.topics, res.categories)); });
      if (res.index_warming) {
        // The topics' examples are still being embedded in the background (after a start or a
        // publish): the groups have no nearest topic yet; ask again in a moment.
        $("groups-status").textContent = T.index_warming;
        $("groups-status").hidden = false;
        setTimeout(loadGroups, 3000);
        return;
      }
      $("groups-status").textContent = T.groups_empty;
      $("groups-status").hidden = res.groups.length > 0;
      document.body.setAttribute("data-groups-loaded", String(res.groups.length));
    }).catch(C.showError);
  }

  C.signIn().then(function (agent) {
    if (!C.hasRole(agent, "editor")) { window.location.reload(); return; }
    $("app-view").hidden = false;
    $("filter-form").addEventListener("submit", function (e) { e.preventDefault(); load(); loadGroups(); });
    loadGroups();
    return load();
  }).catch(C.showError);
})();
