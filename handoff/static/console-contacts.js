/* Known customers in the agent desk (issue 18): the conversation's contact (name, e-mail, addresses,
 * verified or not), their earlier conversations (date, channel, topics, outcome, rating), each
 * opened read-only in a dialog, the agents' notes about them, linking another address, and for
 * admins exporting or erasing everything held about them. Filled in whenever console.js has
 * (re)loaded a conversation (the "tsunagi:conversation" event on its panel). */
(function () {
  "use strict";

  var C = window.Console, T = C.T, fmt = C.fmt, el = C.el, api = C.api;
  var dialog = null;

  function enc(value) { return encodeURIComponent(String(value)); }

  function isAdmin() { return !!(C.agent && C.hasRole(C.agent, "admin")); }

  document.addEventListener("tsunagi:conversation", function (e) {
    var box = e.target.querySelector && e.target.querySelector(".contact-section");
    if (box) load(box, e.detail.id);
  });

  function load(box, conversationId) {
    return api("GET", "/api/agent/conversations/" + enc(conversationId) + "/contact").then(function (card) {
      render(box, card, conversationId);
    }).catch(function (err) { if (err.status !== 404) C.showError(err); });
  }

  function outcomeLabel(item) {
    var key = "outcome_" + item.outcome;
    var label = T[key] !== undefined ? T[key] : item.outcome;
    return item.agent_name ? label + " (" + item.agent_name + ")" : label;
  }

  function ratingLabel(rating) {
    if (!rating || rating.csat === null || rating.csat === undefined) return "";
    return "★" + rating.csat;
  }

  function render(box, card, conversationId) {
    box.textContent = "";
    box.appendChild(el("h3", { text: T.contact }));
    if (!card.contact) {
      box.appendChild(el("p", { class: "muted contact-anonymous", text: T.contact_anonymous }));
      return;
    }
    var c = card.contact;
    box.dataset.contactId = String(c.id);
    box.appendChild(el("div", { class: "contact-card" }, [
      el("div", { class: "contact-name" }, [
        el("strong", { text: c.name || c.shop_customer_id || "#" + c.id }),
        card.verified ? el("span", { class: "badge verified", title: T.contact_verified_hint, text: T.contact_verified }) : null
      ]),
      el("ul", { class: "contact-identities" }, (c.identities || []).map(function (i) {
        return el("li", null, [el("span", { class: "id-kind", text: T["identity_" + i.kind] || i.kind }), " ",
                               el("span", { class: "id-value", text: i.value })]);
      }))
    ]));
    box.appendChild(linkForm(box, c, conversationId));

    box.appendChild(el("h4", { text: fmt("contact_history", { n: card.history.length }) }));
    var history = el("ul", { class: "contact-history" });
    card.history.forEach(function (item) {
      var open = el("button", { type: "button", class: "history-item" }, [
        el("span", { class: "hi-date", text: C.dateTime(item.created_at) }),
        el("span", { class: "badge channel", text: item.channel }),
        el("span", { class: "hi-outcome", text: outcomeLabel(item) }),
        el("span", { class: "hi-rating", text: ratingLabel(item.rating) }),
        el("span", { class: "hi-topics", text: item.topics.length ? item.topics.join(", ") : T.contact_no_topics })
      ]);
      open.dataset.conversationId = item.id;
      open.addEventListener("click", function () { showTranscript(item); });
      history.appendChild(el("li", null, [open]));
    });
    if (!card.history.length) history.appendChild(el("li", { class: "muted", text: T.contact_first_time }));
    box.appendChild(history);

    box.appendChild(el("h4", { text: T.contact_notes }));
    var notes = el("ul", { class: "notes contact-notes" });
    (c.notes || []).forEach(function (n) { notes.appendChild(noteItem(n)); });
    box.appendChild(notes);
    box.appendChild(noteForm(c, notes));

    if (isAdmin()) box.appendChild(privacyActions(box, c, conversationId));
  }

  function noteItem(n) {
    return el("li", { class: "note" }, [
      el("div", { class: "note-meta", text: (n.agent_name || "") + (n.created_at ? " · " + C.dateTime(n.created_at) : "") }),
      el("div", { class: "note-text", text: n.text || "" })
    ]);
  }

  function noteForm(contact, list) {
    var area = el("textarea", { class: "contact-note-text", rows: "2", maxlength: "2000",
                                placeholder: T.contact_note_placeholder, "aria-label": T.contact_notes });
    var form = el("form", { class: "note-form", novalidate: true }, [
      area, el("button", { type: "submit", class: "ghost small", text: T.add_note })
    ]);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var value = area.value.trim();
      if (!value) return;
      api("POST", "/api/agent/contacts/" + contact.id + "/notes", { text: value }).then(function (res) {
        area.value = "";
        list.appendChild(noteItem(res.note));
      }).catch(C.showError);
    });
    return form;
  }

  function linkForm(box, contact, conversationId) {
    var kind = el("select", { class: "link-kind", "aria-label": T.identity_kind }, ["email", "line", "phone"].map(function (k) {
      return el("option", { value: k, text: T["identity_" + k] || k });
    }));
    var value = el("input", { class: "link-value", maxlength: "254", placeholder: T.contact_link_placeholder,
                              "aria-label": T.contact_link_placeholder });
    var form = el("form", { class: "link-form", novalidate: true }, [
      kind, value, el("button", { type: "submit", class: "ghost small", text: T.contact_link })
    ]);
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      if (!value.value.trim()) return;
      api("POST", "/api/agent/contacts/" + contact.id + "/identities", { kind: kind.value, value: value.value.trim() })
        .then(function (res) {
          C.toast(fmt("contact_linked", { n: res.linked_conversations }), "success");
          load(box, conversationId);
        }).catch(C.showError);
    });
    return form;
  }

  function privacyActions(box, contact, conversationId) {
    var exportButton = el("button", { type: "button", class: "ghost small contact-export", text: T.contact_export });
    var eraseButton = el("button", { type: "button", class: "ghost danger small contact-erase", text: T.contact_erase });
    exportButton.addEventListener("click", function () { C.exportContact(contact); });
    eraseButton.addEventListener("click", function () {
      C.eraseContact(contact, function () { load(box, conversationId); });
    });
    return el("div", { class: "contact-privacy" }, [
      el("h4", { text: T.contact_privacy }), el("div", { class: "row" }, [exportButton, eraseButton])
    ]);
  }

  // An earlier conversation, read-only: its transcript in a dialog, nothing to act on.
  function showTranscript(item) {
    if (!dialog) {
      dialog = el("dialog", { class: "canned-dialog history-dialog", "aria-labelledby": "history-dialog-title" });
      var close = el("button", { type: "button", class: "ghost icon", "aria-label": T.close, text: "×" });
      close.addEventListener("click", function () { dialog.close(); });
      dialog.appendChild(el("div", { class: "dialog-head" }, [el("h2", { id: "history-dialog-title" }), close]));
      dialog.appendChild(el("p", { class: "muted history-meta" }));
      dialog.appendChild(el("ol", { class: "transcript history-transcript" }));
      document.body.appendChild(dialog);
    }
    dialog.querySelector("h2").textContent = fmt("contact_transcript_title", { date: C.dateTime(item.created_at) });
    dialog.querySelector(".history-meta").textContent = [item.channel, outcomeLabel(item), ratingLabel(item.rating),
      item.rating && item.rating.comment ? "“" + item.rating.comment + "”" : ""].filter(Boolean).join(" · ");
    var list = dialog.querySelector(".history-transcript");
    list.textContent = "";
    api("GET", "/api/agent/conversations/" + enc(item.id)).then(function (detail) {
      (detail.messages || []).forEach(function (m) {
        var sender = m.sender || "system";
        var who = sender === "customer" ? T.customer : sender === "bot" ? T.bot :
          sender === "agent" ? (m.agent_name || T.agent) : T.system;
        list.appendChild(el("li", { class: "tm tm-" + sender }, [
          el("div", { class: "tm-meta" }, [el("span", { class: "tm-who", text: who }),
                                           el("time", { text: m.created_at ? C.clock(m.created_at) : "" })]),
          el("div", { class: "tm-bubble", text: m.display_text || m.text || "" })
        ]));
      });
      if (!dialog.open) dialog.showModal();
    }).catch(C.showError);
  }
})();
