/* Known customers (admin page /console/contacts): search contacts, export everything held about
 * one as JSON, or erase it (POST /api/admin/contacts/<id>/export, .../erase; docs/identity.md). */
(function () {
  "use strict";

  var C = window.Console, T = C.T, el = C.el, fmt = C.fmt;
  var $ = function (id) { return document.getElementById(id); };

  function row(contact) {
    var exportButton = el("button", { type: "button", class: "ghost small contact-export", text: T.contact_export });
    var eraseButton = el("button", { type: "button", class: "ghost danger small contact-erase", text: T.contact_erase });
    exportButton.addEventListener("click", function () { C.exportContact(contact); });
    eraseButton.addEventListener("click", function () { C.eraseContact(contact, search); });
    var addresses = (contact.identities || []).filter(function (i) { return i.kind !== "shop_id"; })
      .map(function (i) { return (T["identity_" + i.kind] || i.kind) + ": " + i.value; }).join(", ");
    return el("tr", { "data-contact-id": String(contact.id) }, [
      el("td", { text: contact.name || "—" }), el("td", { text: contact.shop_customer_id || "—" }),
      el("td", { text: addresses || "—" }), el("td", null, [exportButton, " ", eraseButton])
    ]);
  }

  function search() {
    var q = $("contacts-q").value.trim();
    if (!q) return Promise.resolve();
    return C.api("GET", "/api/agent/contacts?q=" + encodeURIComponent(q)).then(function (res) {
      var body = $("contacts-body");
      body.textContent = "";
      res.contacts.forEach(function (contact) { body.appendChild(row(contact)); });
      $("contacts-empty").hidden = res.contacts.length > 0;
    }).catch(C.showError);
  }

  C.signIn().then(function (agent) {
    if (!C.hasRole(agent, "admin")) { window.location.reload(); return; }
    $("app-view").hidden = false;
    $("contacts-search").addEventListener("submit", function (e) { e.preventDefault(); search(); });
    $("contacts-q").focus();
  }).catch(C.showError);
})();
