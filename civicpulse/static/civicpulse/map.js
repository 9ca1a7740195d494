/* CivicMap: the street maps of CivicPulse, on Leaflet and Leaflet.markercluster (vendored
 * by scripts/vendor_leaflet.sh; load leaflet.js and leaflet.markercluster.js first).
 *
 * A map element carries its tiles: data-tile-url (a {z}/{x}/{y} template; empty: no
 * tiles) and data-tile-attribution (plain text). Without a tile URL, or when tiles fail
 * before any has loaded (Leaflet's tileerror), the map gives up and the element named by
 * data-fallback (the server-drawn SVG outline map) is shown instead: the map is never
 * the only way, and offline installs keep working.
 *
 * Elements with data-civic-map start on their own when the page has loaded:
 *   data-civic-map="report"    the resident form's pin (CivicMap.reportForm)
 *   data-civic-map="staff"     open issues per viewport from data-markers-url (CivicMap.staff)
 *   data-civic-map="points"    a JSON list of points in the script tag named by data-points
 *   data-civic-map="clustered" markers from data-markers-url, clustered (CivicMap.clustered)
 *
 * CivicMap.clustered(element, url): a clustered map of the markers `url` answers with,
 * as JSON: {"issues": [{id, title, latitude, longitude, status?, category?, url?}]} (or
 * the same list under "markers") and "truncated" when more were left out. Each marker's
 * popup shows its title (a link when it has a url), category and status. Returns the
 * Leaflet map (also element.civicMap), or null when it fell back.
 *
 * Events (the report form): whenever its point changes (pin dropped or dragged, "use my
 * location", an address chosen) the form dispatches on document
 *   new CustomEvent("civicpulse:point", {detail: {latitude, longitude}})
 * and it draws, apart from its pin, the issues of any
 *   new CustomEvent("civicpulse:nearby", {detail: {issues: [{id, title, category, status,
 *     report_count, distance_m, latitude, longitude}]}})
 *
 * Words shown to people come from the page (a JSON script tag, translated there).
 */
(function () {
  "use strict";

  function escapeText(text) {
    var div = document.createElement("div");
    div.textContent = text == null ? "" : String(text);
    return div.innerHTML;
  }

  function fallbackOf(el) {
    return el.dataset.fallback ? document.getElementById(el.dataset.fallback) : null;
  }

  function showFallback(el) {
    var fallback = fallbackOf(el);
    el.hidden = true;
    el.dataset.state = "fallback";
    if (fallback) fallback.hidden = false;
  }

  /* A Leaflet map with the element's tiles, or null (fallback shown). `onFail` runs if
   * the tiles fail before any loads, after the map is removed. */
  function base(el, onFail) {
    var url = el.dataset.tileUrl || "";
    if (!url || !window.L) {
      showFallback(el);
      return null;
    }
    el.hidden = false;
    var fallback = fallbackOf(el);
    if (fallback) fallback.hidden = true;
    var map = L.map(el, { scrollWheelZoom: false, worldCopyJump: true });
    var loaded = false, failed = false;
    var layer = L.tileLayer(url, { maxZoom: 19, attribution: escapeText(el.dataset.tileAttribution || "") });
    layer.on("tileload", function () {
      loaded = true;
      el.dataset.state = "tiles";
    });
    layer.on("tileerror", function () {
      // One missing tile on a working server is not a failure; no tile at all is.
      if (loaded || failed) return;
      failed = true;
      window.setTimeout(function () {
        map.remove();
        showFallback(el);
        if (onFail) onFail();
      }, 0);
    });
    layer.addTo(map);
    return map;
  }

  function boundsOf(el) {
    var d = el.dataset;
    if (d.west === undefined || d.west === "") return null;
    return L.latLngBounds([+d.south, +d.west], [+d.north, +d.east]);
  }

  function fit(map, el, fallbackPoints) {
    var bounds = boundsOf(el);
    if (bounds && bounds.isValid()) map.fitBounds(bounds.pad(0.05));
    else if (fallbackPoints && fallbackPoints.length) map.fitBounds(L.latLngBounds(fallbackPoints).pad(0.2), { maxZoom: 17 });
    else map.setView([20, 0], 2);
  }

  function popup(item, words) {
    var title = escapeText(item.title || ("#" + item.id));
    var html = item.url ? '<a href="' + escapeText(item.url) + '">' + title + "</a>" : "<strong>" + title + "</strong>";
    var details = [item.category, item.status_label || item.status].filter(Boolean).map(escapeText);
    if (item.report_count) details.push(escapeText((words.reports || "%s reports").replace("%s", item.report_count)));
    return html + (details.length ? "<br>" + details.join(" · ") : "");
  }

  function clusterLayer() {
    return L.markerClusterGroup ? L.markerClusterGroup({ showCoverageOnHover: false }) : L.layerGroup();
  }

  function readJson(id) {
    var node = id && document.getElementById(id);
    return node ? JSON.parse(node.textContent) : null;
  }

  /* Ray casting over one ring of [lon, lat] positions (the server's rule: civicpulse.core.geo). */
  function inRing(lon, lat, ring) {
    var inside = false;
    for (var i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      var xi = ring[i][0], yi = ring[i][1], xj = ring[j][0], yj = ring[j][1];
      if ((yi > lat) !== (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi) inside = !inside;
    }
    return inside;
  }

  function inAreas(lat, lon, boundaries) {
    if (!boundaries || !boundaries.length) return true;
    return boundaries.some(function (geometry) {
      var polygons = geometry.type === "MultiPolygon" ? geometry.coordinates : [geometry.coordinates];
      return polygons.some(function (rings) {
        return inRing(lon, lat, rings[0]) && !rings.slice(1).some(function (hole) { return inRing(lon, lat, hole); });
      });
    });
  }

  /* The resident form: a pin to drop and drag on the tiles (or a click on the SVG
   * fallback), "use my location", and an address box with suggestions. */
  function reportForm(el) {
    var words = readJson(el.dataset.strings) || {};
    var boundaries = readJson(el.dataset.boundaries) || [];
    var lat = document.getElementById("id_latitude"), lon = document.getElementById("id_longitude");
    var where = document.getElementById("where"), svgBox = fallbackOf(el);
    var svg = svgBox ? svgBox.querySelector("svg") : null, pin = document.getElementById("pin");
    var marker = null, nearbyLayer = null, map = null;

    function say(text, problem) {
      if (!where) return;
      where.textContent = text;
      where.classList.toggle("problem", !!problem);
    }

    function svgXY(a, b) {
      var d = svgBox.dataset, box = svg.viewBox.baseVal;
      return [(b - d.west) / (d.east - d.west) * box.width, (d.north - a) / (d.north - d.south) * box.height];
    }

    function placeSvgPin() {
      if (!svg || !pin || lat.value === "") return;
      var xy = svgXY(+lat.value, +lon.value);
      pin.setAttribute("cx", xy[0]);
      pin.setAttribute("cy", xy[1]);
    }

    function placeMarker(a, b, pan) {
      if (!map) return;
      if (!marker) {
        marker = L.marker([a, b], { draggable: true, keyboard: true, title: words.pin || "", alt: words.pin || "" }).addTo(map);
        marker.on("dragend", function () {
          var p = marker.getLatLng();
          choose(p.lat, p.lng, false);
        });
      } else marker.setLatLng([a, b]);
      if (pan) map.setView([a, b], Math.max(map.getZoom(), 17));
    }

    /* The pin without a mouse: the arrow keys pan the focused map (Leaflet's own), Enter
     * or Space puts the pin at its centre (drawn as a cross while it has focus); the
     * arrow keys move the focused pin (Shift: further). */
    function keyboardPin() {
      var help = document.getElementById(el.getAttribute("aria-describedby"));
      if (help) help.hidden = false;
      el.classList.add("civic-pin-map");
      el.addEventListener("keydown", function (e) {
        if (e.target === el && (e.key === "Enter" || e.key === " ")) {
          e.preventDefault();
          var c = map.getCenter();
          choose(c.lat, c.lng, false);
          return;
        }
        var steps = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] }[e.key];
        if (!steps || !marker || e.target !== marker.getElement()) return;
        // Not Leaflet's panning as well: the pin moves, the map stays.
        e.preventDefault();
        e.stopPropagation();
        var px = e.shiftKey ? 40 : 8, at = map.latLngToContainerPoint(marker.getLatLng());
        var p = map.containerPointToLatLng([at.x + steps[0] * px, at.y + steps[1] * px]);
        choose(p.lat, p.lng, false);
        marker.getElement().focus();
      }, true);
    }

    function choose(a, b, pan) {
      lat.value = a.toFixed(6);
      lon.value = b.toFixed(6);
      if (inAreas(a, b, boundaries)) say(words.chosen || "", false);
      else say(words.outside || "", true);
      placeSvgPin();
      placeMarker(a, b, pan);
      document.dispatchEvent(new CustomEvent("civicpulse:point", { detail: { latitude: a, longitude: b } }));
    }

    map = base(el, function () {
      map = null;
      marker = null;
      nearbyLayer = null;
      placeSvgPin();
    });
    if (map) {
      var start = lat.value !== "" ? [[+lat.value, +lon.value]] : null;
      if (start && !boundsOf(el)) map.setView(start[0], 17);
      else fit(map, el, start);
      map.on("click", function (e) { choose(e.latlng.lat, e.latlng.lng, false); });
      if (start) placeMarker(start[0][0], start[0][1], false);
      keyboardPin();
    }
    if (svg) {
      svg.addEventListener("click", function (e) {
        var r = svg.getBoundingClientRect(), d = svgBox.dataset;
        var fx = (e.clientX - r.left) / r.width, fy = (e.clientY - r.top) / r.height;
        choose(d.north - fy * (d.north - d.south), +d.west + fx * (d.east - d.west), false);
      });
      placeSvgPin();
    }

    var locate = document.getElementById("locate");
    if (locate) locate.addEventListener("click", function () {
      if (!navigator.geolocation) { say(words.noGeolocation || "", true); return; }
      navigator.geolocation.getCurrentPosition(
        function (p) { choose(p.coords.latitude, p.coords.longitude, true); },
        function () { say(words.noLocation || "", true); });
    });

    document.addEventListener("civicpulse:nearby", function (e) {
      var issues = (e.detail && e.detail.issues) || [];
      if (map) {
        if (nearbyLayer) nearbyLayer.remove();
        nearbyLayer = L.layerGroup(issues.map(function (item) {
          return L.circleMarker([item.latitude, item.longitude], {
            radius: 8, color: "#1d4e89", weight: 2, fillColor: "#5fa8d3", fillOpacity: 0.8, className: "civic-nearby"
          }).bindPopup(popup(item, words));
        })).addTo(map);
      }
      if (svg) {
        Array.prototype.forEach.call(svg.querySelectorAll(".civic-nearby"), function (c) { c.remove(); });
        issues.forEach(function (item) {
          var xy = svgXY(item.latitude, item.longitude);
          var c = document.createElementNS("http://www.w3.org/2000/svg", "circle");
          c.setAttribute("class", "civic-nearby");
          c.setAttribute("r", "5");
          c.setAttribute("cx", xy[0]);
          c.setAttribute("cy", xy[1]);
          var t = document.createElementNS("http://www.w3.org/2000/svg", "title");
          t.textContent = item.title || "";
          c.appendChild(t);
          svg.insertBefore(c, pin);
        });
      }
    });

    suggestAddresses(el.dataset.suggestUrl, words, choose);
  }

  /* Suggestions under the address box as one types (debounced; stale answers dropped). */
  function suggestAddresses(url, words, choose) {
    var input = document.getElementById("id_address"), list = document.getElementById("address-suggestions");
    if (!url || !input || !list) return;
    var timer = null, asked = 0;
    function clear() {
      list.innerHTML = "";
      list.hidden = true;
    }
    function show(addresses) {
      clear();
      addresses.forEach(function (item) {
        var li = document.createElement("li"), button = document.createElement("button");
        button.type = "button";
        button.className = "suggestion";
        button.textContent = item.address;
        button.addEventListener("click", function () {
          input.value = item.address;
          clear();
          choose(item.latitude, item.longitude, true);
          input.focus();
        });
        li.appendChild(button);
        list.appendChild(li);
      });
      list.hidden = !addresses.length;
      var status = document.getElementById("address-status");
      if (status) status.textContent = addresses.length ? (words.suggestions || "%s").replace("%s", addresses.length) : "";
    }
    // A list of buttons under a plain text box (not an ARIA combobox, which a text box's
    // aria-expanded would claim): the live status says how many there are.
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("autocomplete", "off");
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      var q = input.value.trim();
      if (q.length < 3) { clear(); return; }
      timer = window.setTimeout(function () {
        var mine = ++asked;
        fetch(url + "?q=" + encodeURIComponent(q), { headers: { Accept: "application/json" } })
          .then(function (r) { return r.ok ? r.json() : { addresses: [] }; })
          .then(function (body) { if (mine === asked) show(body.addresses || []); })
          .catch(function () { if (mine === asked) clear(); });
      }, 300);
    });
    input.addEventListener("keydown", function (e) {
      if (e.key === "Escape") clear();
      if (e.key === "ArrowDown" && !list.hidden) {
        e.preventDefault();
        list.querySelector("button").focus();
      }
    });
  }

  function markerFor(item, words) {
    return L.marker([item.latitude, item.longitude], { title: item.title || ("#" + item.id) }).bindPopup(popup(item, words));
  }

  /* Clustered markers from a JSON URL; see the header for the shape. An answer marked
   * "truncated" (only the newest fit) makes the map say so (the element named by
   * data-note) and ask again, with the viewport (west, south, east, north), each time
   * the view moves, so zooming in shows every marker of a smaller place. */
  function clustered(el, url) {
    var words = readJson(el.dataset.strings) || {};
    var map = base(el);
    if (!map) return null;
    el.civicMap = map;
    fit(map, el);
    var layer = clusterLayer().addTo(map), asked = 0, following = false;
    var note = el.dataset.note ? document.getElementById(el.dataset.note) : null;
    function load(box) {
      var mine = ++asked, target = url;
      if (box) {
        var b = map.getBounds();
        target += (url.indexOf("?") < 0 ? "?" : "&") + "west=" + Math.max(b.getWest(), -180) + "&south=" +
          Math.max(b.getSouth(), -90) + "&east=" + Math.min(b.getEast(), 180) + "&north=" + Math.min(b.getNorth(), 90);
      }
      fetch(target, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (body) {
          if (mine !== asked) return;
          var items = body.issues || body.markers || [];
          layer.clearLayers();
          items.forEach(function (item) { layer.addLayer(markerFor(item, words)); });
          el.dataset.markers = String(items.length);
          el.dataset.truncated = body.truncated ? "1" : "";
          if (note) note.hidden = !body.truncated;
          if (!box && !boundsOf(el) && items.length) {
            map.fitBounds(L.latLngBounds(items.map(function (i) { return [i.latitude, i.longitude]; })).pad(0.1), { maxZoom: 17 });
          }
          if (body.truncated && !following) {
            following = true;
            map.on("moveend", function () { load(true); });
          }
        });
    }
    load(false);
    return map;
  }

  /* Open issues of the viewport, asked again as it moves: {"markers": [...]} when they
   * are few enough, else {"cells": [{latitude, longitude, count}]} counted by the server. */
  function staff(el) {
    var words = readJson(el.dataset.strings) || {};
    var map = base(el);
    if (!map) return null;
    fit(map, el);
    var layer = clusterLayer().addTo(map), cells = L.layerGroup().addTo(map), asked = 0;
    var note = el.dataset.note ? document.getElementById(el.dataset.note) : null;
    function load() {
      var mine = ++asked, url = el.dataset.markersUrl;
      url += (url.indexOf("?") < 0 ? "?" : "&") + "bbox=" + map.getBounds().toBBoxString();
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (body) {
          if (mine !== asked) return;
          layer.clearLayers();
          cells.clearLayers();
          (body.markers || []).forEach(function (item) {
            if (body.issue_url) item.url = body.issue_url.replace("{id}", item.id);
            layer.addLayer(markerFor(item, words));
          });
          (body.cells || []).forEach(function (cell) {
            var size = 28 + Math.min(24, Math.round(Math.log10(cell.count + 1) * 8));
            L.marker([cell.latitude, cell.longitude], {
              icon: L.divIcon({ className: "civic-cell", html: "<span>" + cell.count + "</span>", iconSize: [size, size] }),
              title: (words.cell || "%s").replace("%s", cell.count)
            }).on("click", function () { map.setView([cell.latitude, cell.longitude], map.getZoom() + 2); }).addTo(cells);
          });
          el.dataset.markers = String((body.markers || []).length);
          el.dataset.cells = String((body.cells || []).length);
          if (note) note.textContent = body.cells && body.cells.length ? (words.aggregated || "") : "";
        });
    }
    map.on("moveend", load);
    load();
    return map;
  }

  /* Points given in the page (the issue page's reports), clustered, with the centre. */
  function points(el) {
    var words = readJson(el.dataset.strings) || {};
    var data = readJson(el.dataset.points) || { points: [] };
    var map = base(el);
    if (!map) return null;
    var layer = clusterLayer();
    data.points.forEach(function (item) { layer.addLayer(markerFor(item, words)); });
    layer.addTo(map);
    var all = data.points.map(function (i) { return [i.latitude, i.longitude]; });
    if (data.centre) {
      L.circleMarker([data.centre.latitude, data.centre.longitude], { radius: 7, color: "#0b6e4f", weight: 3, fillOpacity: 0.4 })
        .bindTooltip(escapeText(data.centre.title || "")).addTo(map);
      all.push([data.centre.latitude, data.centre.longitude]);
    }
    fit(map, el, all);
    return map;
  }

  var starters = { report: reportForm, staff: staff, points: points, clustered: function (el) { return clustered(el, el.dataset.markersUrl); } };

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-civic-map]"), function (el) {
      var starter = starters[el.dataset.civicMap];
      if (starter && !el.dataset.started) {
        el.dataset.started = "1";
        starter(el);
      }
    });
  }

  window.CivicMap = { clustered: clustered, staff: staff, points: points, reportForm: reportForm, inAreas: inAreas, start: start };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
