// Tiny DOM helpers: every text becomes a text node, never parsed as markup, so customer data cannot inject HTML.
const SVG_NS = 'http://www.w3.org/2000/svg';

function build(el, attrs, children) {
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2), v);
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** h('div', { class: 'x' }, 'text', child, [more]) */
export const h = (tag, attrs, ...children) => build(document.createElement(tag), attrs, children);
/** Same for SVG elements. */
export const s = (tag, attrs, ...children) => build(document.createElementNS(SVG_NS, tag), attrs, children);

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export const num = (v) => (v === null || v === undefined || v === '' ? NaN : Number(v));

const compact = new Intl.NumberFormat('en', { notation: 'compact', maximumFractionDigits: 1 });
const plain = new Intl.NumberFormat('en', { maximumFractionDigits: 0 });
const twoDp = new Intl.NumberFormat('en', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

/** Money-like values; the currency is whatever the shop sends, so no symbol. */
export function fmtMoney(v, { exact = false } = {}) {
  const n = num(v);
  if (!Number.isFinite(n)) return '—';
  if (exact || Math.abs(n) < 1000) return twoDp.format(n);
  return compact.format(n);
}
export const fmtInt = (v) => (Number.isFinite(num(v)) ? plain.format(num(v)) : '—');
/** Axis ticks over several orders of magnitude: 0.003, 0.25, 4.1, 27, 1.2K. */
export function fmtTick(v) {
  const n = num(v);
  if (!Number.isFinite(n)) return '—';
  const a = Math.abs(n);
  if (a === 0) return '0';
  if (a >= 1000) return compact.format(n);
  if (a >= 10) return n.toFixed(0);
  if (a >= 1) return n.toFixed(1);
  return String(Number(n.toPrecision(a >= 0.1 ? 2 : 1)));
}
export const fmtCompact = (v) => (Number.isFinite(num(v)) ? compact.format(num(v)) : '—');
export function fmtPct(v, digits = 1) {
  const n = num(v);
  return Number.isFinite(n) ? `${(n * 100).toFixed(digits)}%` : '—';
}
export function fmtNum(v, digits = 3) {
  const n = num(v);
  return Number.isFinite(n) ? n.toFixed(digits) : '—';
}
export function fmtDate(v) {
  if (!v) return '—';
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? '—' : d.toISOString().slice(0, 10);
}
export function fmtDateTime(v) {
  if (!v) return '—';
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? '—' : `${d.toISOString().slice(0, 10)} ${d.toISOString().slice(11, 19)}`;
}
export function fmtDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '—';
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 60_000)} min`;
}
/** snake_case segment names read better as words. */
export const label = (name) => (name === null || name === undefined ? 'new' : String(name).replace(/_/g, ' '));

/** A panel: heading, optional tools, and a body whose state the page (and the browser test) can read. */
export function panel(id, title, { subtitle, tools, wide } = {}) {
  const body = h('div', { class: 'panel__body' }, h('p', { class: 'muted' }, 'Loading…'));
  const el = h(
    'section',
    { class: `panel${wide ? ' panel--wide' : ''}`, id, 'aria-labelledby': `${id}-title`, dataset: { state: 'loading' } },
    h('div', { class: 'panel__head' }, h('div', {}, h('h2', { id: `${id}-title` }, title), subtitle ? h('p', { class: 'panel__subtitle' }, subtitle) : null), tools ?? null),
    body,
  );
  const set = (state, ...content) => {
    el.dataset.state = state;
    clear(body).append(...content.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
  };
  return { el, body, set };
}

/** Renders an API failure inside a panel: "not available" for queries this server does not have yet. */
export function failure(p, err) {
  if (err && err.code === 'GRAPHQL_VALIDATION_FAILED') {
    p.set('unavailable', h('p', { class: 'notice' }, 'Not available on this server yet (the API does not offer this query).'));
  } else {
    p.set('error', h('p', { class: 'notice notice--error', role: 'alert' }, `Could not load: ${err?.message ?? err}`));
  }
}

/** A plain accessible table from column definitions { label, value(row), cls? }. */
export function table(columns, rows, { caption, rowAttrs } = {}) {
  return h(
    'table',
    { class: 'table' },
    caption ? h('caption', { class: 'sr-only' }, caption) : null,
    h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.cls }, c.label)))),
    h('tbody', {}, rows.map((r) => h('tr', rowAttrs ? rowAttrs(r) : {}, columns.map((c) => h('td', { class: c.cls }, c.value(r)))))),
  );
}

export const customerLink = (externalId) => h('a', { href: `#/customer/${encodeURIComponent(externalId)}`, class: 'customer-link' }, externalId);
