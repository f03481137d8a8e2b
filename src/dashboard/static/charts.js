// Charts as inline SVG built with the DOM (no library, no inline styles: colours are classes in style.css).
// Each chart is an <svg role="img"> with a <title> summary; every mark carries its own <title> as a tooltip.
import { fmtCompact, fmtTick, s } from './dom.js';

const FONT_PX = 11;

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  const m = v / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 4 ? 4 : m <= 5 ? 5 : m <= 6 ? 6 : m <= 8 ? 8 : 10) * p;
}

/** A maximum for counts that splits into 4 whole-number ticks. */
function niceCount(v) {
  const m = niceMax(v);
  return m >= 4 && m % 4 !== 0 ? Math.ceil(m / 4) * 4 : Math.ceil(m);
}

function root(w, hgt, summary, ...children) {
  return s('svg', { viewBox: `0 0 ${w} ${hgt}`, class: 'chart', role: 'img', 'aria-label': summary }, s('title', {}, summary), ...children);
}

/** Horizontal grid lines with labels on the left; returns the y of a value. */
function yGrid(g, { left, right, top, bottom, min = 0, max, fmt = fmtCompact, ticks = 4 }) {
  // Whole-number scales (counts) get whole-number ticks: fewer ticks when the range is small.
  if (min === 0 && Number.isInteger(max) && max < ticks * 2) ticks = Math.max(1, max);
  const y = (v) => bottom - ((v - min) / (max - min || 1)) * (bottom - top);
  for (let i = 0; i <= ticks; i++) {
    const v = min + ((max - min) * i) / ticks;
    g.append(s('line', { x1: left, x2: right, y1: y(v), y2: y(v), class: v === 0 ? 'axis' : 'grid' }));
    g.append(s('text', { x: left - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' }, fmt(v)));
  }
  return y;
}

/** Vertical bars of a histogram: bins [{ lower, upper, count }]. */
export function histogram(bins, { width = 560, height = 230, xFmt = fmtTick, unit = 'customers', summary } = {}) {
  const pad = { left: 46, right: 10, top: 12, bottom: 40 };
  const g = s('g');
  const max = niceCount(Math.max(...bins.map((b) => b.count), 1));
  const y = yGrid(g, { left: pad.left, right: width - pad.right, top: pad.top, bottom: height - pad.bottom, max });
  const bw = (width - pad.left - pad.right) / Math.max(bins.length, 1);
  const every = Math.max(1, Math.ceil(bins.length / 6));
  const lastTick = Math.floor((bins.length - 1) / every) * every;
  bins.forEach((b, i) => {
    const x = pad.left + i * bw;
    g.append(
      s('rect', { x: x + 1, y: y(b.count), width: Math.max(bw - 2, 1), height: Math.max(y(0) - y(b.count), 0), class: 'bar bar--accent' },
        s('title', {}, `${xFmt(b.lower)} – ${xFmt(b.upper)}: ${b.count} ${unit}`)),
    );
    if (i % every === 0) g.append(s('text', { x, y: height - pad.bottom + 16, class: 'tick', 'text-anchor': 'middle' }, xFmt(b.lower)));
  });
  // The upper end only when it does not collide with the last lower-bound label.
  if (bins.length && bins.length - lastTick >= every / 2 + 1) g.append(s('text', { x: width - pad.right, y: height - pad.bottom + 16, class: 'tick', 'text-anchor': 'end' }, xFmt(bins.at(-1).upper)));
  const total = bins.reduce((a, b) => a + b.count, 0);
  return root(width, height, summary ?? `Histogram of ${total} ${unit} in ${bins.length} bins`, g);
}

/**
 * Horizontal bars: rows [{ label, value, text, cls, marker, href }], value in [0, max]. `marker` draws a thin
 * reference line on the bar (e.g. the population share a tier would have if value were spread evenly).
 */
export function hbars(rows, { width = 560, max, labelWidth = 120, textWidth = 140, rowHeight = 26, summary, markerLabel } = {}) {
  const top = markerLabel ? 18 : 4;
  const height = top + rows.length * rowHeight + 4;
  const left = labelWidth;
  const right = width - textWidth;
  const m = max ?? Math.max(...rows.map((r) => r.value), 1e-9);
  const x = (v) => left + (Math.max(0, Math.min(v, m)) / m) * (right - left);
  const g = s('g');
  if (markerLabel) g.append(s('text', { x: right, y: 11, class: 'tick', 'text-anchor': 'end' }, markerLabel));
  rows.forEach((r, i) => {
    const y0 = top + i * rowHeight;
    g.append(s('text', { x: left - 8, y: y0 + rowHeight / 2 + 4, class: 'label', 'text-anchor': 'end' }, r.label));
    g.append(s('rect', { x: left, y: y0 + 4, width: right - left, height: rowHeight - 8, class: 'track' }));
    g.append(s('rect', { x: left, y: y0 + 4, width: Math.max(x(r.value) - left, 1), height: rowHeight - 8, class: `bar ${r.cls ?? 'bar--accent'}` }, s('title', {}, `${r.label}: ${r.text}`)));
    if (Number.isFinite(r.marker)) g.append(s('line', { x1: x(r.marker), x2: x(r.marker), y1: y0 + 1, y2: y0 + rowHeight - 1, class: 'marker' }));
    g.append(s('text', { x: right + 8, y: y0 + rowHeight / 2 + 4, class: 'value' }, r.text));
  });
  return root(width, height, summary ?? rows.map((r) => `${r.label}: ${r.text}`).join('; '), g);
}

/** Grouped vertical bars: categories on x, series [{ name, cls, values }] side by side, legend on top. */
export function groupedBars(categories, series, { width = 560, height = 250, yFmt = fmtTick, summary, labelEvery = 1, legend = true } = {}) {
  const pad = { left: 50, right: 10, top: 30, bottom: 34 };
  const g = s('g');
  const all = series.flatMap((sr) => sr.values).filter(Number.isFinite);
  const max = niceMax(Math.max(...all, 0));
  const min = Math.min(0, ...all) < 0 ? -niceMax(-Math.min(...all)) : 0;
  const y = yGrid(g, { left: pad.left, right: width - pad.right, top: pad.top, bottom: height - pad.bottom, min, max, fmt: yFmt });
  const gw = (width - pad.left - pad.right) / Math.max(categories.length, 1);
  const bw = (gw * 0.8) / Math.max(series.length, 1);
  categories.forEach((c, i) => {
    series.forEach((sr, j) => {
      const v = sr.values[i];
      if (!Number.isFinite(v)) return;
      const x = pad.left + i * gw + gw * 0.1 + j * bw;
      const [a, b] = [y(Math.max(v, 0)), y(Math.min(v, 0))];
      g.append(s('rect', { x, y: a, width: Math.max(bw - 1, 1), height: Math.max(b - a, 0.5), class: `bar ${sr.cls}` }, s('title', {}, `${c} · ${sr.name}: ${yFmt(v)}`)));
    });
    if (i % labelEvery === 0) g.append(s('text', { x: pad.left + (i + 0.5) * gw, y: height - pad.bottom + 16, class: 'tick', 'text-anchor': 'middle' }, c));
  });
  let lx = pad.left;
  for (const sr of legend ? series : []) {
    g.append(s('rect', { x: lx, y: 6, width: 12, height: 12, class: `bar ${sr.cls}` }));
    g.append(s('text', { x: lx + 17, y: 16, class: 'label' }, sr.name));
    lx += 30 + sr.name.length * FONT_PX * 0.6;
  }
  return root(width, height, summary ?? `${series.map((sr) => sr.name).join(' vs ')} for ${categories.length} groups`, g);
}

/** Diverging horizontal bars around zero: rows [{ label, value, text }]; positive and negative get their own colours. */
export function diverging(rows, { width = 560, labelWidth = 200, rowHeight = 28, summary } = {}) {
  const height = rows.length * rowHeight + 8;
  const left = labelWidth;
  const right = width - 70;
  const m = Math.max(...rows.map((r) => Math.abs(r.value)), 1e-9);
  const mid = (left + right) / 2;
  const x = (v) => mid + (v / m) * ((right - left) / 2);
  const g = s('g');
  rows.forEach((r, i) => {
    const y0 = 4 + i * rowHeight;
    g.append(s('text', { x: left - 8, y: y0 + rowHeight / 2 + 4, class: 'label', 'text-anchor': 'end' }, r.label));
    const [a, b] = [Math.min(x(r.value), mid), Math.max(x(r.value), mid)];
    g.append(s('rect', { x: a, y: y0 + 5, width: Math.max(b - a, 1), height: rowHeight - 10, class: `bar ${r.value >= 0 ? 'bar--pos' : 'bar--neg'}` }, s('title', {}, `${r.label}: ${r.text}`)));
    g.append(s('text', { x: right + 8, y: y0 + rowHeight / 2 + 4, class: 'value' }, r.text));
  });
  g.append(s('line', { x1: mid, x2: mid, y1: 0, y2: height, class: 'axis' }));
  return root(width, height, summary ?? rows.map((r) => `${r.label}: ${r.text}`).join('; '), g);
}

/** Bars over time: points [{ label, value }] in order; negative values (refund-heavy months) hang below zero. */
export function timeBars(points, { width = 560, height = 190, summary } = {}) {
  return groupedBars(points.map((p) => p.label), [{ name: 'net spend', cls: 'bar--accent', values: points.map((p) => p.value) }], {
    width,
    height,
    legend: false,
    labelEvery: Math.max(1, Math.ceil(points.length / 8)),
    summary: summary ?? `Net spend per month over ${points.length} months`,
  });
}
