// One customer: score and why, purchase history, what they wrote, and the customers most like them.
import { gql } from './api.js';
import { diverging, timeBars } from './charts.js';
import { customerLink, failure, fmtDate, fmtDateTime, fmtInt, fmtMoney, fmtNum, fmtPct, h, label, num, panel, table } from './dom.js';

const CUSTOMER = `query Customer($ext: String!) { customer(externalId: $ext) {
  id externalId region gender birthYear signupDate
  stats { firstPurchaseAt lastPurchaseAt orderCount refundCount totalSpend averageOrderValue }
  score { clv pAlive churnRisk tier segment explanation scoredAt modelVersion { id kind horizonDays } }
  transactions(first: 500) { nodes { externalId occurredAt amount currency kind description category } }
  comments(first: 20) { nodes { createdAt source language text } } } }`;
const SEGMENTS = `query CustomerSegments($ext: String!) { customer(externalId: $ext) { segments { kind name } } }`;
const SIMILAR = `query Similar($ext: String!) { similarCustomers(externalId: $ext, k: 10, by: BLEND) {
  distance semanticDistance behaviorDistance
  customer { externalId region stats { totalSpend orderCount } score { clv tier segment churnRisk } } } }`;

export function renderCustomer(main, externalId) {
  const head = h('div', { class: 'customer-head' }, h('a', { href: '#/', class: 'back' }, '← Overview'), h('h1', {}, 'Customer ', h('span', { class: 'mono' }, externalId)));
  const chips = h('p', { class: 'chips', id: 'customer-chips' });
  const kpis = h('section', { class: 'kpis', id: 'customer-kpis', 'aria-label': 'Score and purchase summary', dataset: { state: 'loading' } });
  const why = panel('explanation', 'Why this score', { subtitle: 'Features that moved the prediction most (model target units; + raises, − lowers)' });
  const spend = panel('spend-history', 'Spend per month', { subtitle: 'Purchases minus refunds' });
  const similar = panel('similar', 'Similar customers', { subtitle: 'Nearest by behaviour and what they write (blend)' });
  const comments = panel('comments', 'What they wrote', { subtitle: 'Latest reviews, posts and support messages' });
  const txns = panel('transactions', 'Transactions', { subtitle: 'Most recent first', wide: true });
  main.append(head, chips, kpis, h('div', { class: 'grid' }, why.el, spend.el, similar.el, comments.el, txns.el));

  gql(CUSTOMER, { ext: externalId }).then(
    (d) => {
      const c = d.customer;
      if (!c) {
        kpis.dataset.state = 'missing';
        kpis.append(h('p', { class: 'notice', role: 'alert' }, `No customer with external id “${externalId}”.`));
        for (const p of [why, spend, similar, comments, txns]) p.el.remove();
        return;
      }
      renderProfile(chips, kpis, c);
      renderExplanation(why, c.score);
      renderSpend(spend, c.transactions.nodes);
      renderComments(comments, c.comments.nodes);
      renderTransactions(txns, c.transactions.nodes);
      gql(SEGMENTS, { ext: externalId }).then(
        (s) => chips.append(...(s.customer?.segments ?? []).map((g) => h('span', { class: 'chip chip--segment', title: label(g.kind.toLowerCase()) }, `${label(g.kind.toLowerCase())}: ${label(g.name)}`))),
        () => {}, // older servers have no Customer.segments; the score's tier and segment are shown anyway
      );
      gql(SIMILAR, { ext: externalId }).then((s) => renderSimilar(similar, s.similarCustomers), (e) => failure(similar, e));
    },
    (e) => {
      kpis.dataset.state = 'error';
      kpis.append(h('p', { class: 'notice notice--error', role: 'alert' }, `Could not load the customer: ${e.message}`));
    },
  );
  return () => {};
}

function kpi(title, value, note) {
  return h('div', { class: 'kpi' }, h('div', { class: 'kpi__title' }, title), h('div', { class: 'kpi__value' }, value), h('div', { class: 'kpi__note' }, note ?? ''));
}

function renderProfile(chips, kpis, c) {
  const age = c.birthYear ? `born ${c.birthYear}` : null;
  for (const t of [c.region, c.gender, age, c.signupDate ? `signed up ${fmtDate(c.signupDate)}` : null]) if (t) chips.append(h('span', { class: 'chip' }, t));
  const s = c.score;
  kpis.append(
    kpi('Predicted CLV', s ? fmtMoney(s.clv, { exact: true }) : '—', s ? `next ${s.modelVersion.horizonDays} days · model #${s.modelVersion.id}` : 'not scored yet'),
    kpi('Churn risk', s ? fmtPct(s.churnRisk, 0) : '—', s && Number.isFinite(num(s.pAlive)) ? `P(alive) ${fmtPct(s.pAlive, 0)}` : ''),
    kpi('Value tier', s?.tier ? label(s.tier) : '—', s?.segment ? `RFM: ${label(s.segment)}` : ''),
    kpi('Spend to date', fmtMoney(c.stats.totalSpend, { exact: true }), `${fmtInt(c.stats.orderCount)} orders · ${fmtInt(c.stats.refundCount)} refunds`),
    kpi('Last purchase', fmtDate(c.stats.lastPurchaseAt), c.stats.averageOrderValue ? `avg order ${fmtMoney(c.stats.averageOrderValue, { exact: true })}` : ''),
  );
  kpis.dataset.state = 'ready';
}

function renderExplanation(p, score) {
  const rows = Array.isArray(score?.explanation) ? score.explanation : [];
  if (!rows.length) return p.set('empty', h('p', { class: 'muted' }, score ? 'This score has no explanation.' : 'Not scored yet.'));
  const shown = (v) => (v === -1 ? 'n/a' : Math.abs(v) >= 100 ? fmtInt(v) : fmtNum(v, 2));
  p.set(
    'ready',
    diverging(rows.map((r) => ({ label: `${label(r.feature)} = ${shown(r.value)}`, value: r.contribution, text: `${r.contribution >= 0 ? '+' : '−'}${fmtNum(Math.abs(r.contribution), 2)}` })), {
      summary: `Top ${rows.length} feature contributions to the predicted CLV`,
    }),
  );
}

function monthly(txns) {
  const sums = new Map();
  for (const t of txns) {
    const m = String(t.occurredAt).slice(0, 7);
    const a = Math.abs(num(t.amount));
    sums.set(m, (sums.get(m) ?? 0) + (t.kind === 'refund' ? -a : a));
  }
  if (!sums.size) return [];
  const keys = [...sums.keys()].sort();
  const out = [];
  let [y, mo] = keys[0].split('-').map(Number);
  const last = keys.at(-1);
  for (;;) {
    const k = `${y}-${String(mo).padStart(2, '0')}`;
    out.push({ label: k, value: sums.get(k) ?? 0 });
    if (k >= last || out.length > 240) break;
    mo += 1;
    if (mo > 12) [y, mo] = [y + 1, 1];
  }
  return out.slice(-36);
}

function renderSpend(p, txns) {
  const points = monthly(txns);
  if (!points.length) return p.set('empty', h('p', { class: 'muted' }, 'No transactions.'));
  p.set('ready', timeBars(points, { summary: `Net spend per month, ${points[0].label} to ${points.at(-1).label}` }), txns.length >= 500 ? h('p', { class: 'muted small' }, 'Latest 500 transactions.') : null);
}

function renderComments(p, rows) {
  if (!rows.length) return p.set('empty', h('p', { class: 'muted' }, 'No comments.'));
  p.set(
    'ready',
    h('ul', { class: 'comments' }, rows.map((c) => h('li', {}, h('div', { class: 'comments__meta' }, h('span', { class: `badge badge--${c.source}` }, c.source), ` ${fmtDate(c.createdAt)}`), h('p', {}, c.text)))),
  );
}

function renderTransactions(p, rows) {
  if (!rows.length) return p.set('empty', h('p', { class: 'muted' }, 'No transactions.'));
  p.set(
    'ready',
    h('div', { class: 'scroll scroll--short' },
      table(
        [
          { label: 'When', value: (t) => fmtDateTime(t.occurredAt) },
          { label: 'Kind', value: (t) => h('span', { class: `badge badge--${t.kind}` }, t.kind) },
          { label: 'Item', value: (t) => t.description ?? '—' },
          { label: 'Category', value: (t) => t.category ?? '—' },
          { label: 'Amount', value: (t) => `${fmtMoney(t.amount, { exact: true })} ${t.currency}`, cls: 'num' },
        ],
        rows.slice(0, 25),
        { caption: 'Latest transactions' },
      ),
    ),
  );
}

function renderSimilar(p, rows) {
  if (!rows.length) return p.set('empty', h('p', { class: 'muted' }, 'No similar customers found.'));
  p.set(
    'ready',
    h('div', { class: 'scroll' }, table(
      [
        { label: 'Customer', value: (r) => customerLink(r.customer.externalId) },
        { label: 'Distance', value: (r) => fmtNum(r.distance, 3), cls: 'num' },
        { label: 'Predicted CLV', value: (r) => fmtMoney(r.customer.score?.clv), cls: 'num' },
        { label: 'Tier', value: (r) => label(r.customer.score?.tier ?? '—') },
        { label: 'Segment', value: (r) => label(r.customer.score?.segment ?? '—') },
        { label: 'Region', value: (r) => r.customer.region ?? '—' },
      ],
      rows,
      { caption: 'Most similar customers' },
    )),
  );
}
