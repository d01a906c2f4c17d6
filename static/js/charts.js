/* Small SVG charts for the dashboard, drawn from the JSON the page embeds (<script id="dashboard-data">).
   No library and no CDN: bars, a monthly line, rates with intervals, and officers' z-scores. Every number
   drawn here is also in a table on the page, so the charts are a picture of the tables, not their only home. */
(function () {
  "use strict";

  const NS = "http://www.w3.org/2000/svg";
  const style = getComputedStyle(document.documentElement);
  const ACCENT = style.getPropertyValue("--accent").trim() || "#1f5fa8";
  const MUTED = "#9aa5b1";
  const GRID = "#e6eaef";
  const TEXT = "#5f6b7a";
  const number = new Intl.NumberFormat(document.documentElement.lang || undefined, { maximumFractionDigits: 1 });

  function el(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const key in attrs) node.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(node);
    return node;
  }

  function label(parent, x, y, content, attrs) {
    const node = el("text", Object.assign({ x: x, y: y, "font-size": 11, fill: TEXT }, attrs || {}), parent);
    node.textContent = content;
    return node;
  }

  function svgIn(container, height, title) {
    container.textContent = "";
    const width = Math.max(240, container.clientWidth || 320);
    const svg = el("svg", { viewBox: `0 0 ${width} ${height}`, width: "100%", height: height, role: "img", "aria-label": title }, container);
    el("title", {}, svg).textContent = title;
    return { svg: svg, width: width, height: height };
  }

  /** Round tick values covering 0..max (about `count` of them). */
  function ticks(max, count) {
    if (!(max > 0)) return [0, 1];
    const raw = max / count;
    const power = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw);
    const values = [];
    for (let v = 0; v <= max + step * 0.001; v += step) values.push(v);
    if (values[values.length - 1] < max) values.push(values[values.length - 1] + step);
    return values;
  }

  function short(value) {
    if (value === null || value === undefined) return "—";
    if (Math.abs(value) >= 1e4) return number.format(value / 1e4) + (document.documentElement.lang.startsWith("zh") ? "万" : "×10⁴");
    return number.format(value);
  }

  /* A and B of one figure as two horizontal bars. */
  function pair(container, data) {
    const figure = data.figures.find((f) => f.key === container.dataset.figure);
    if (!figure) return;
    const { svg, width } = svgIn(container, 44, `${figure.label}: A ${short(figure.a)}, B ${short(figure.b)}`);
    const max = Math.max(figure.a || 0, figure.b || 0) || 1;
    const left = 18;
    const span = width - left - 70;
    [["A", figure.a, MUTED], ["B", figure.b, ACCENT]].forEach(([name, value, colour], i) => {
      const y = 4 + i * 20;
      label(svg, 2, y + 12, name);
      if (value === null) {
        label(svg, left, y + 12, "—");
        return;
      }
      const w = Math.max(1, (span * value) / max);
      el("rect", { x: left, y: y, width: w, height: 14, rx: 2, fill: colour }, svg);
      label(svg, left + w + 6, y + 12, short(value) + (figure.unit === "%" ? "%" : ""));
    });
  }

  /* Spot-check batches (or spending) per month, periods A and B shaded. */
  function monthly(container, data) {
    const key = container.dataset.series;
    const series = data.monthly;
    if (!series.length) return;
    const title = container.dataset.title || key;
    const { svg, width, height } = svgIn(container, 190, title);
    const pad = { left: 46, right: 10, top: 16, bottom: 26 };
    const values = series.map((row) => row[key]);
    const yTicks = ticks(Math.max(...values), 4);
    const yMax = yTicks[yTicks.length - 1] || 1;
    const x = (i) => pad.left + ((width - pad.left - pad.right) * (i + 0.5)) / series.length;
    const y = (v) => height - pad.bottom - ((height - pad.top - pad.bottom) * v) / yMax;
    const months = series.map((row) => row.month);
    data.ranges.forEach(([start, end], i) => {
      const from = months.indexOf(start);
      const to = months.indexOf(end);
      if (from < 0 || to < 0) return;
      const step = (width - pad.left - pad.right) / series.length;
      el("rect", { x: x(from) - step / 2, y: pad.top, width: step * (to - from + 1), height: height - pad.top - pad.bottom, fill: i ? "#e8f0fa" : "#f1f3f6" }, svg);
      label(svg, x(from) - step / 2 + 4, pad.top + 11, `${i ? "B" : "A"} ${data.periods[i]}`, { "font-weight": 600 });
    });
    yTicks.forEach((t) => {
      el("line", { x1: pad.left, x2: width - pad.right, y1: y(t), y2: y(t), stroke: GRID }, svg);
      label(svg, pad.left - 6, y(t) + 4, short(t), { "text-anchor": "end" });
    });
    const every = Math.ceil(series.length / 8);
    series.forEach((row, i) => {
      if (i % every === 0) label(svg, x(i), height - 8, row.month, { "text-anchor": "middle" });
    });
    const points = series.map((row, i) => `${x(i)},${y(row[key])}`).join(" ");
    el("polyline", { points: points, fill: "none", stroke: ACCENT, "stroke-width": 2 }, svg);
    series.forEach((row, i) => {
      const dot = el("circle", { cx: x(i), cy: y(row[key]), r: 2.5, fill: ACCENT }, svg);
      el("title", {}, dot).textContent = `${row.month}: ${number.format(row[key])}`;
    });
  }

  /* Non-conforming per 100 inspections with 95 % intervals: risk arm (filled) against control arm (hollow). */
  function arms(container, data) {
    const rows = data.arms;
    const rowHeight = 34;
    const { svg, width, height } = svgIn(container, 40 + rows.length * rowHeight, container.dataset.title || "arms");
    const pad = { left: 120, right: 16, top: 26, bottom: 14 };
    // The axis fits the arms large enough to compare; the wide intervals of small samples are cut at its end.
    const fitted = rows.some((row) => !row.small) ? rows.filter((row) => !row.small) : rows;
    const highs = fitted.flatMap((row) => [row.risk.high, row.control.high]).filter((v) => v !== null);
    const xTicks = ticks(Math.max(5, ...highs), 5);
    const xMax = xTicks[xTicks.length - 1];
    const x = (v) => pad.left + ((width - pad.left - pad.right) * Math.min(v, xMax)) / xMax;
    xTicks.forEach((t) => {
      el("line", { x1: x(t), x2: x(t), y1: pad.top - 4, y2: height - pad.bottom, stroke: GRID }, svg);
      label(svg, x(t), pad.top - 8, number.format(t), { "text-anchor": "middle" });
    });
    rows.forEach((row, i) => {
      const base = pad.top + i * rowHeight + 10;
      label(svg, pad.left - 8, base + 8, row.label + (row.small ? " *" : ""), { "text-anchor": "end", fill: row.small ? MUTED : "#1f2933" });
      [["risk", 0, true], ["control", 14, false]].forEach(([arm, offset, filled]) => {
        const rate = row[arm];
        const cy = base + offset;
        if (rate.rate === null) return;
        const opacity = row.small ? 0.45 : 1;
        el("line", { x1: x(rate.low), x2: x(rate.high), y1: cy, y2: cy, stroke: filled ? ACCENT : TEXT, "stroke-width": 2, opacity: opacity }, svg);
        if (rate.high > xMax) {
          const end = x(xMax);
          el("path", { d: `M${end - 6},${cy - 4} L${end},${cy} L${end - 6},${cy + 4}`, fill: "none", stroke: filled ? ACCENT : TEXT, "stroke-width": 2, opacity: opacity }, svg);
        }
        const dot = el(
          "circle",
          { cx: x(rate.rate), cy: cy, r: 4.5, fill: filled ? ACCENT : "#fff", stroke: filled ? ACCENT : TEXT, "stroke-width": 2, opacity: opacity },
          svg,
        );
        el("title", {}, dot).textContent = `${arm}: ${number.format(rate.rate)} / 100 (${number.format(rate.low)}–${number.format(rate.high)}), n=${rate.n}`;
      });
    });
  }

  /* Officers' z-scores; the band is |z| ≤ 2, flagged officers are filled. */
  function inspectors(container, data) {
    const rows = data.inspectors;
    if (!rows.length) return;
    const rowHeight = 22;
    const { svg, width, height } = svgIn(container, 40 + rows.length * rowHeight, container.dataset.title || "z");
    const pad = { left: 110, right: 16, top: 24, bottom: 10 };
    const limit = Math.max(3, Math.ceil(Math.max(...rows.map((r) => Math.abs(r.z)))));
    const x = (z) => pad.left + ((width - pad.left - pad.right) * (z + limit)) / (2 * limit);
    el("rect", { x: x(-2), y: pad.top - 4, width: x(2) - x(-2), height: height - pad.top - pad.bottom + 4, fill: "#f1f3f6" }, svg);
    for (let z = -limit; z <= limit; z += 1) {
      el("line", { x1: x(z), x2: x(z), y1: pad.top - 4, y2: height - pad.bottom, stroke: z === 0 ? MUTED : GRID }, svg);
      label(svg, x(z), pad.top - 8, String(z), { "text-anchor": "middle" });
    }
    rows.forEach((row, i) => {
      const cy = pad.top + i * rowHeight + 8;
      label(svg, pad.left - 8, cy + 4, row.name, { "text-anchor": "end", "font-weight": row.outlier ? 700 : 400, fill: row.outlier ? "#1f2933" : TEXT });
      const dot = el(
        "circle",
        { cx: x(row.z), cy: cy, r: 5, fill: row.outlier ? ACCENT : "#fff", stroke: row.outlier ? ACCENT : TEXT, "stroke-width": 2 },
        svg,
      );
      el("title", {}, dot).textContent = `${row.name}: z = ${row.z.toFixed(2)} (n=${row.n})`;
    });
  }

  const CHARTS = { pair: pair, monthly: monthly, arms: arms, inspectors: inspectors };

  function drawAll() {
    const source = document.getElementById("dashboard-data");
    if (!source) return;
    const data = JSON.parse(source.textContent);
    document.querySelectorAll("[data-chart]").forEach((container) => {
      const draw = CHARTS[container.dataset.chart];
      if (draw) draw(container, data);
    });
    document.body.dataset.chartsDrawn = "true";
  }

  let resizeTimer = null;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(drawAll, 200);
  });
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", drawAll);
  else drawAll();
})();
