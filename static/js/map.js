/* 一图: the colour-coded regional map. Plain Leaflet, no build step; data from /api/regions/…. */
(function () {
  "use strict";

  // The colours are the page's CSS custom properties (base.html, from regions.models.PALETTE).
  var css = window.getComputedStyle(document.documentElement);
  function cssColour(name) { return css.getPropertyValue("--" + name).trim(); }
  var COLOURS = { red: cssColour("red"), orange: cssColour("orange"), yellow: cssColour("yellow"), green: cssColour("green"), too_few: "url(#hatch)" };
  var gettext = window.gettext || function (s) { return s; };
  var interpolate = window.interpolate || function (f, o) { return f.replace(/%\((\w+)\)s/g, function (m, k) { return o[k]; }); };
  var settings = JSON.parse(document.getElementById("map-settings").textContent);
  var controls = document.getElementById("map-controls");
  var panel = document.getElementById("panel");
  var cards = document.getElementById("summary-cards");

  // maxZoom is needed by the marker clusters when no tile layer sets it (the map works without tiles).
  var map = L.map("map", { zoomSnap: 0.25, minZoom: 6, maxZoom: 18, attributionControl: !!settings.tileUrl, preferCanvas: false })
    .setView(settings.center, settings.zoom);
  if (settings.tileUrl) {
    L.tileLayer(settings.tileUrl, { attribution: settings.tileAttribution, maxZoom: 18 }).addTo(map);
  } else {
    document.getElementById("map").classList.add("no-tiles");
  }

  // The levels offered below the user's jurisdiction, top first (a province: city → county → town). Double-clicking
  // a region zooms into it and shows the level below, inside it only (state.within: its code prefix).
  var LEVELS = settings.levels || ["county", "town"];
  var state = { layer: "risk", level: LEVELS[0], period: controls.period.value, fitted: false, selected: null, within: null };
  controls.level.value = state.level;
  var regionLayer = null;
  var outlineLayer = null;  // county outlines under the town markers, for orientation
  // The priorities layer's own marks: the enterprise's code colour (一码) in a square, clusters in the accent
  // colour, over grey regions, so that no risk colour on the screen means two things (its legend says so).
  var priorityLayer = L.markerClusterGroup({
    showCoverageOnHover: false, maxClusterRadius: 45,
    iconCreateFunction: function (cluster) {
      var n = cluster.getChildCount(), size = n < 10 ? 30 : n < 100 ? 36 : 44;
      return L.divIcon({ html: "<span>" + n + "</span>", className: "priority-cluster", iconSize: L.point(size, size) });
    },
  });
  var NEUTRAL_FILL = "#eef1f4";
  var request = 0;

  function escapeHtml(text) {
    return String(text == null ? "" : text).replace(/[&<>"']/g, function (c) {
      return { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c];
    });
  }

  // GB/T 2260: the prefix every division inside a region shares (330000 → 33, 330400 → 3304, a county its own code).
  function codePrefix(code) {
    if (code.length !== 6) { return code; }
    var prefix = code;
    while (prefix.length > 2 && prefix.slice(-2) === "00") { prefix = prefix.slice(0, -2); }
    return prefix;
  }
  function inside(feature) { return !state.within || feature.properties.code.indexOf(state.within) === 0; }

  function percent(value) { return value == null ? "—" : value.toFixed(1) + "%"; }

  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (response) {
      if (!response.ok) { throw new Error(response.status + " " + response.statusText); }
      return response.json();
    });
  }

  // Hatched fill for "too few to colour": an SVG pattern inside Leaflet's overlay SVG.
  function ensureHatchPattern() {
    var svg = map.getPanes().overlayPane.querySelector("svg");
    if (!svg || svg.querySelector("#hatch")) { return; }
    var ns = "http://www.w3.org/2000/svg";
    var defs = document.createElementNS(ns, "defs");
    var pattern = document.createElementNS(ns, "pattern");
    pattern.setAttribute("id", "hatch");
    pattern.setAttribute("patternUnits", "userSpaceOnUse");
    pattern.setAttribute("width", "8");
    pattern.setAttribute("height", "8");
    pattern.setAttribute("patternTransform", "rotate(45)");
    pattern.innerHTML = '<rect width="8" height="8" fill="#eeeeee"></rect><line x1="0" y1="0" x2="0" y2="8" stroke="#9e9e9e" stroke-width="3"></line>';
    defs.appendChild(pattern);
    svg.insertBefore(defs, svg.firstChild);
  }

  var maxCount = 1;
  function overviewFill(count) {
    // Sequential blues for counts: the four risk colours stay reserved for risk.
    var share = Math.sqrt((count || 0) / maxCount);
    var light = [222, 235, 247], dark = [8, 81, 156];
    var rgb = light.map(function (l, i) { return Math.round(l + (dark[i] - l) * share); });
    return "rgb(" + rgb.join(",") + ")";
  }

  function styleFor(feature) {
    var p = feature.properties;
    var fill = state.layer === "overview" ? overviewFill(p.enterprise_count)
      : state.layer === "priorities" ? NEUTRAL_FILL : COLOURS[p.colour] || COLOURS.too_few;
    return {
      color: "#444", weight: p.code === state.selected ? 3 : 1, opacity: 1,
      fillColor: fill, fillOpacity: state.layer === "priorities" ? 0.6 : 0.8,
      className: "region region-" + p.code + " colour-" + p.colour,
    };
  }

  function showLegend(layer) {
    // Each layer explains its own colours: risk shares, enterprise counts, or the key enterprises' marks.
    document.querySelectorAll("[data-legend]").forEach(function (node) { node.hidden = node.dataset.legend !== layer; });
  }

  function tooltipFor(p) {
    if (state.layer === "overview") {
      return escapeHtml(p.name) + "<br>" + p.enterprise_count + " " + gettext("enterprises");
    }
    return escapeHtml(p.name) + "<br>" + (p.colour === "too_few" ? gettext("too few to colour") : percent(p.risk_share));
  }

  function showThresholds(thresholds) {
    // The legend shows the thresholds the shown period was coloured with, not just today's.
    document.querySelectorAll("#legend [data-threshold]").forEach(function (node) {
      var value = thresholds[node.dataset.threshold];
      node.textContent = value === Math.round(value) ? String(value) : String(+value.toFixed(2));
    });
  }

  function drawOutlines() {
    if (outlineLayer) { map.removeLayer(outlineLayer); outlineLayer = null; }
    if (state.level !== "town") { return; }
    getJSON("/api/regions/map/?level=county" + (state.period ? "&period=" + state.period : "")).then(function (counties) {
      if (state.level !== "town") { return; }
      outlineLayer = L.geoJSON(counties, {
        filter: function (feature) { return !!feature.geometry && feature.geometry.type !== "Point" && inside(feature); },
        style: { color: "#8a96a3", weight: 1.2, fill: true, fillColor: "#ffffff", fillOpacity: 0.6, interactive: false },
        interactive: false,
      }).addTo(map);
      outlineLayer.bringToBack();
    });
  }

  function drawRegions(collection) {
    if (regionLayer) { map.removeLayer(regionLayer); }
    drawOutlines();
    if (collection.thresholds) { showThresholds(collection.thresholds); }
    maxCount = Math.max.apply(null, collection.features.map(function (f) { return f.properties.enterprise_count; }).concat([1]));
    regionLayer = L.geoJSON(collection, {
      filter: function (feature) { return !!feature.geometry && inside(feature); },
      style: styleFor,
      pointToLayer: function (feature, latlng) {
        var radius = 5 + Math.min(9, Math.sqrt(feature.properties.enterprise_count || 0) / 2);
        return L.circleMarker(latlng, Object.assign(styleFor(feature), { radius: radius, fillOpacity: 0.9 }));
      },
      onEachFeature: function (feature, layer) {
        var p = feature.properties;
        var permanent = state.level === "city" || (state.level === "county" && (state.within || LEVELS[0] === "county"));
        layer.bindTooltip(tooltipFor(p), { permanent: permanent, direction: "center", className: "region-label" + (permanent ? "" : " floating") });
        layer.on("click", function () { select(p.code); });
        layer.on("dblclick", function (event) { L.DomEvent.stop(event); zoomInto(feature, layer); });
      },
    }).addTo(map);
    ensureHatchPattern();
    regionLayer.eachLayer(function (layer) { layer.setStyle(styleFor(layer.feature)); });
    if (!state.fitted && regionLayer.getBounds().isValid()) {
      map.fitBounds(regionLayer.getBounds(), { padding: [10, 10] });
      state.fitted = true;
    }
    document.getElementById("map").dataset.loaded = state.level;
  }

  function zoomInto(feature, layer) {
    var next = LEVELS[LEVELS.indexOf(state.level) + 1];
    if (!next) { return; }
    if (layer.getBounds) { map.fitBounds(layer.getBounds(), { padding: [10, 10] }); }
    state.within = codePrefix(feature.properties.code);
    state.level = next;
    state.fitted = true;
    controls.level.value = next;
    select(feature.properties.code);
    loadRegions();
  }

  function loadRegions() {
    var mine = ++request;
    var url = "/api/regions/map/?level=" + state.level + (state.period ? "&period=" + state.period : "");
    return getJSON(url).then(function (collection) {
      if (mine === request) { drawRegions(collection); }
    }).catch(function (error) { panel.innerHTML = '<p class="error">' + gettext("The map data could not be loaded") + ": " + escapeHtml(error.message) + "</p>"; });
  }

  function loadPriorities() {
    priorityLayer.clearLayers();
    if (state.layer !== "priorities") { map.removeLayer(priorityLayer); return; }
    var b = map.getBounds();
    var bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()].map(function (v) { return v.toFixed(4); }).join(",");
    getJSON("/api/enterprises/priorities/?bbox=" + bbox).then(function (data) {
      priorityLayer.clearLayers();
      data.markers.forEach(function (m) {
        var marker = L.marker([m.lat, m.lon], {
          icon: L.divIcon({ className: "priority-marker category-" + m.category, iconSize: L.point(14, 14) }),
          title: m.name + " · " + m.category_label,
        });
        marker.bindPopup('<a href="' + m.url + '">' + escapeHtml(m.name) + "</a><br>" + escapeHtml(m.category_label));
        priorityLayer.addLayer(marker);
      });
      priorityLayer.addTo(map);
    });
  }

  function indexChange(trend) {
    var last = trend[trend.length - 1], before = trend[trend.length - 2];
    if (!last || !before || last.index == null || before.index == null) { return ""; }
    var change = last.index - before.index;
    return '<small class="' + (change >= 0 ? "up" : "down") + '">' + (change >= 0 ? "▲" : "▼") + Math.abs(change).toFixed(1) + "</small>";
  }

  function sparkline(trend) {
    if (!trend.length) { return ""; }
    var w = 220, h = 44, max = Math.max.apply(null, trend.map(function (p) { return p.risk_share; }).concat([1]));
    var step = trend.length > 1 ? (w - 10) / (trend.length - 1) : 0;
    var points = trend.map(function (p, i) { return [5 + i * step, h - 6 - (p.risk_share / max) * (h - 12)]; });
    var line = points.map(function (xy) { return xy[0].toFixed(1) + "," + xy[1].toFixed(1); }).join(" ");
    var dots = points.map(function (xy, i) {
      var p = trend[i];
      return '<circle cx="' + xy[0].toFixed(1) + '" cy="' + xy[1].toFixed(1) + '" r="3.5" fill="' + (COLOURS[p.colour] || "#bbb").replace("url(#hatch)", "#bbb") +
        '" stroke="#555" stroke-width=".5"><title>' + p.period + " " + percent(p.risk_share) + "</title></circle>";
    }).join("");
    return '<svg class="trend" viewBox="0 0 ' + w + " " + h + '" width="100%" height="' + h + '" role="img" aria-label="' + gettext("Trend of the risk share") +
      '"><polyline fill="none" stroke="#777" stroke-width="1.5" points="' + line + '"></polyline>' + dots + "</svg>";
  }

  function indexChart(trend) {
    // 一指数 over the periods shown: a line on a fixed 0–100 scale, so regions compare at a glance.
    var points = trend.filter(function (p) { return p.index != null; });
    if (points.length < 2) { return ""; }
    var w = 220, h = 48, step = (w - 10) / (points.length - 1);
    var xy = points.map(function (p, i) { return [5 + i * step, h - 4 - (p.index / 100) * (h - 8)]; });
    var line = xy.map(function (c) { return c[0].toFixed(1) + "," + c[1].toFixed(1); }).join(" ");
    var dots = xy.map(function (c, i) {
      return '<circle cx="' + c[0].toFixed(1) + '" cy="' + c[1].toFixed(1) + '" r="2.5" fill="#1f5fa8"><title>' + points[i].period + " " + points[i].index.toFixed(1) + "</title></circle>";
    }).join("");
    return '<svg class="trend index-trend" viewBox="0 0 ' + w + " " + h + '" width="100%" height="' + h + '" role="img" aria-label="' + gettext("Trend of the quality-safety index") +
      '"><line x1="0" x2="' + w + '" y1="' + (h - 4 - 0.8 * (h - 8)).toFixed(1) + '" y2="' + (h - 4 - 0.8 * (h - 8)).toFixed(1) + '" stroke="#dde3ea" stroke-dasharray="3 3"></line>' +
      '<polyline fill="none" stroke="#1f5fa8" stroke-width="1.5" points="' + line + '"></polyline>' + dots + "</svg>";
  }

  function indexInputs(d) {
    // The formula and the inputs behind the number, shown next to it (not only in a tooltip).
    var inputs = d.index_inputs || {}, scores = inputs.scores || {};
    var rows = [
      [gettext("Share of non-risk enterprises"), scores.non_risk_share, inputs.enterprises ? (inputs.enterprises - inputs.risk_enterprises) + " / " + inputs.enterprises : ""],
      [gettext("Spot-check pass rate"), scores.pass_rate, inputs.spot_checks ? inputs.spot_checks_passed + " / " + inputs.spot_checks : ""],
      [gettext("On-time rectification rate"), scores.on_time_rectification, inputs.rectifications_due ? (inputs.rectifications_due - inputs.rectifications_overdue) + " / " + inputs.rectifications_due : ""],
      [gettext("Incident score"), scores.incident_score, inputs.incidents != null ? interpolate(gettext("%(n)s incidents"), { n: inputs.incidents }, true) : ""],
    ].map(function (r) {
      return "<li>" + escapeHtml(r[0]) + " <b>" + (r[1] == null ? gettext("no data") : (r[1] * 100).toFixed(1) + "%") + "</b> <small>" + escapeHtml(r[2]) + "</small></li>";
    }).join("");
    return '<details class="index-formula"><summary>' + gettext("How the index is computed") + "</summary><p><small>" + escapeHtml(d.index_formula || "") +
      '</small></p><ul class="inputs">' + rows + "</ul></details>";
  }

  function renderPanel(d) {
    var badge = d.colour ? '<span class="badge ' + d.colour + '">' + escapeHtml(d.colour_label) + "</span>" : "";
    var reasons = d.top_reasons.map(function (r) { return "<li>" + escapeHtml(r.label) + " <b>" + r.count + "</b></li>"; }).join("");
    var key = d.key_enterprises.map(function (e) {
      return '<li><i class="priority-marker small category-' + e.category + '"></i><a href="' + e.url + '">' + escapeHtml(e.name) +
        "</a> <small>" + escapeHtml(e.town) + " · " + escapeHtml(e.category_label) + "</small></li>";
    }).join("");
    var index = d.index == null ? "—" : d.index.toFixed(1);
    panel.innerHTML =
      '<h2 class="panel-title">' + escapeHtml(d.name) + ' <small class="code">' + d.code + "</small> " + badge + "</h2>" +
      '<p class="share" data-testid="panel-share">' + gettext("Share of risk enterprises") + " <b>" + percent(d.risk_share) + "</b><br>" +
      '<span data-testid="panel-counts">' + interpolate(gettext("%(risk)s of %(total)s enterprises"), { risk: d.risk_count, total: d.enterprise_count }, true) + "</span></p>" +
      '<p class="index">' + gettext("Quality-safety index") + " <b data-testid=\"panel-index\">" + index + "</b> " + indexChange(d.trend) + "</p>" +
      (d.index_formula ? indexInputs(d) : "") +
      (reasons ? "<h3>" + gettext("Commonest risk reasons") + "</h3><ul class=\"reasons\">" + reasons + "</ul>" : "") +
      '<div id="panel-orders" data-testid="panel-orders"></div>' +
      "<h3>" + gettext("Key-supervised enterprises") + " (" + d.key_total + ")</h3>" + (key ? '<ul class="key">' + key + "</ul>" : "<p>—</p>") +
      (d.key_total > d.key_enterprises.length ? '<p><a data-testid="key-list-link" href="' + escapeHtml(d.key_list_url) + '">' +
        interpolate(gettext("All %(n)s key-supervised enterprises"), { n: d.key_total }, true) + " →</a></p>" : "") +
      "<h3>" + gettext("Trend") + " <small>" + (d.trend.length ? d.trend[0].period + " – " + d.trend[d.trend.length - 1].period : "") + "</small></h3>" +
      "<p class=\"chart-label\">" + gettext("Share of risk enterprises") + "</p>" + sparkline(d.trend) +
      "<p class=\"chart-label\">" + gettext("Quality-safety index") + "</p>" + indexChart(d.trend);
    panel.dataset.code = d.code;
  }

  function renderOrders(o) {
    // Rectification as it stands today (not per period): /api/regions/<code>/orders/, beside the panel's data.
    var box = document.getElementById("panel-orders");
    if (!box || panel.dataset.code !== o.code) { return; }
    var rows = [
      [gettext("Open orders"), o.open, "open"],
      [gettext("Overdue"), o.overdue, o.overdue ? "overdue" : ""],
      [gettext("Re-inspections pending"), o.reinspections_pending, "pending"],
    ].map(function (r) { return '<li><span>' + escapeHtml(r[0]) + '</span> <b class="' + r[2] + '" data-count="' + r[2] + '">' + r[1] + "</b></li>"; }).join("");
    box.innerHTML = "<h3>" + gettext("Rectification orders today") + '</h3><ul class="order-counts">' + rows + "</ul>" +
      (o.orders_url ? '<p><a href="' + escapeHtml(o.orders_url) + '">' + gettext("Order list of this region") + " →</a></p>" : "");
  }

  function select(code) {
    state.selected = code;
    if (regionLayer) { regionLayer.eachLayer(function (layer) { layer.setStyle(styleFor(layer.feature)); }); }
    panel.innerHTML = '<p class="hint">' + gettext("Loading…") + "</p>";
    var orders = getJSON("/api/regions/" + code + "/orders/").catch(function () { return null; });  // the panel shows without them
    getJSON("/api/regions/" + code + "/panel/" + (state.period ? "?period=" + state.period : "")).then(function (d) {
      renderPanel(d);
      return orders.then(function (o) { if (o) { renderOrders(o); } });
    }).catch(function (error) { panel.innerHTML = '<p class="error">' + escapeHtml(error.message) + "</p>"; });
  }

  function renderCards(top) {
    getJSON("/api/regions/" + top + "/panel/" + (state.period ? "?period=" + state.period : "")).then(function (d) {
      cards.innerHTML = [
        [gettext("Enterprises"), d.enterprise_count],
        [gettext("Risk enterprises"), d.risk_count + " (" + percent(d.risk_share) + ")"],
        [gettext("Key-supervised enterprises"), d.key_total],
        [gettext("Quality-safety index"), d.index == null ? "—" : d.index.toFixed(1)],
      ].map(function (card) { return '<div class="card stat"><span>' + card[0] + "</span><b>" + card[1] + "</b></div>"; }).join("");
    });
  }

  controls.addEventListener("change", function (event) {
    var name = event.target.name;
    state[name] = event.target.value;
    if (name === "layer") {
      showLegend(state.layer);
      if (regionLayer) {
        regionLayer.eachLayer(function (layer) {
          layer.setStyle(styleFor(layer.feature));
          layer.setTooltipContent(tooltipFor(layer.feature.properties));
        });
      }
      loadPriorities();
    } else {
      if (name === "level") { state.within = null; state.fitted = false; }  // a level picked by hand: the whole jurisdiction
      loadRegions();
      if (name === "period") {
        renderCards(settings.topRegion);
        if (state.selected) { select(state.selected); }
      }
    }
  });
  map.on("moveend", function () { if (state.layer === "priorities") { loadPriorities(); } });
  window.addEventListener("resize", function () { map.invalidateSize(); });

  showLegend(state.layer);
  loadRegions();
  if (settings.topRegion) { renderCards(settings.topRegion); }
  window.jqsMap = { map: map, select: select, state: state, zoomInto: zoomInto };
})();
