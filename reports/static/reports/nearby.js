/* "Already reported near here?" on the resident report form (templates/reports/_nearby.html).
 *
 * Whenever the form has a point (the map's `civicpulse:point` event, or the hidden
 * latitude and longitude fields changing, whoever set them), the open issues within
 * 200 m are asked from the panel's data-url (GET /issues/nearby/) and listed, each
 * with "Me too": it puts the issue's id in the hidden chosen_issue field and sends
 * the form, so the report joins that issue. Each answer is dispatched on document as
 *   new CustomEvent("civicpulse:nearby", {detail: {issues: [...]}})
 * for the map to draw them. Words come from the panel's data-msg-* attributes
 * (translated by the template).
 */
(function () {
  "use strict";
  var panel = document.getElementById("nearby");
  if (!panel || !window.fetch) return;
  var list = document.getElementById("nearby-list");
  var status = document.getElementById("nearby-status");
  var template = document.getElementById("nearby-item");
  var chosen = document.getElementById("id_chosen_issue");
  var lat = document.getElementById("id_latitude");
  var lon = document.getElementById("id_longitude");
  var words = panel.dataset;
  var timer = null, lastKey = "", asked = 0;

  // A choice the server refused (closed meanwhile, too far) is not sent again.
  if (chosen && panel.querySelector("[data-chosen-refused]")) {
    chosen.value = "";
    panel.hidden = false;
  }

  function fill(text, values) {
    return String(text || "").replace(/%\((\w+)\)s/g, function (whole, name) {
      return Object.prototype.hasOwnProperty.call(values, name) ? values[name] : whole;
    });
  }

  function lookup(latitude, longitude) {
    var a = parseFloat(latitude), b = parseFloat(longitude);
    if (!isFinite(a) || !isFinite(b)) return;
    var key = a.toFixed(6) + "," + b.toFixed(6);
    if (key === lastKey) return;
    lastKey = key;
    // Both fields change one after the other, and a dragged pin many times: ask once it settles.
    window.clearTimeout(timer);
    timer = window.setTimeout(function () { ask(a, b); }, 250);
  }

  function ask(a, b) {
    var mine = ++asked;
    var url = words.url + "?latitude=" + encodeURIComponent(a) + "&longitude=" + encodeURIComponent(b);
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error(String(response.status));
        return response.json();
      })
      .then(function (body) { if (mine === asked) show(body.issues || []); })
      .catch(function () {
        if (mine !== asked) return;
        panel.hidden = false;
        list.textContent = "";
        status.textContent = words.msgFailed || "";
        panel.dataset.state = "failed";
      });
  }

  function metaOf(issue) {
    var reports = issue.report_count === 1 ? words.msgOneReport : fill(words.msgReports, { count: issue.report_count });
    return [issue.category, issue.status_label || issue.status, reports, fill(words.msgDistance, { metres: issue.distance_m })]
      .filter(Boolean).join(" · ");
  }

  function itemOf(issue) {
    var node = template.content.firstElementChild.cloneNode(true);
    node.dataset.issue = String(issue.id);
    node.querySelector(".nearby-title").textContent = issue.title;
    node.querySelector(".nearby-meta").textContent = metaOf(issue);
    var photo = node.querySelector(".nearby-photo");
    if (issue.photo_url) {
      photo.src = issue.photo_url;
      photo.hidden = false;
    } else {
      photo.remove();
    }
    var button = node.querySelector(".nearby-metoo");
    button.setAttribute("aria-label", fill(words.msgMetooLabel, { title: issue.title }));
    button.addEventListener("click", function () { meToo(issue, button); });
    return node;
  }

  function show(issues) {
    panel.hidden = false;
    list.textContent = "";
    issues.forEach(function (issue) { list.appendChild(itemOf(issue)); });
    var summary = issues.length === 1 ? words.msgOne : issues.length ? fill(words.msgSome, { count: issues.length }) : words.msgNone;
    status.textContent = summary || "";
    panel.dataset.state = "shown";
    panel.dataset.count = String(issues.length);
    document.dispatchEvent(new CustomEvent("civicpulse:nearby", { detail: { issues: issues } }));
  }

  function meToo(issue, button) {
    if (!chosen || !button.form) return;
    chosen.value = String(issue.id);
    // "Me too" says what the problem is: the resident's own words are kept when they wrote some.
    var description = document.getElementById("id_description");
    if (description && !description.value.trim()) description.value = issue.title;
    status.textContent = fill(words.msgChosen, { title: issue.title });
    if (button.form.requestSubmit) button.form.requestSubmit();
    else button.form.submit();
  }

  document.addEventListener("civicpulse:point", function (event) {
    var point = event.detail || {};
    lookup(point.latitude, point.longitude);
  });

  // Without the map's event (no map script, or a script that only fills the fields), the
  // hidden fields themselves: a hidden input's value is its attribute, so it can be watched.
  function fromFields() {
    if (lat && lon && lat.value && lon.value) lookup(lat.value, lon.value);
  }
  [lat, lon].forEach(function (field) {
    if (!field) return;
    field.addEventListener("change", fromFields);
    if (window.MutationObserver) {
      new MutationObserver(fromFields).observe(field, { attributes: true, attributeFilter: ["value"] });
    }
  });
  fromFields();
})();
