// The overview page: KPIs, value distribution, segments, models and jobs. Each panel loads on its own, so a query
// the server does not have (yet) shows "not available" in that panel and the rest of the page still works.
import { gql } from './api.js';
import { hbars, histogram } from './charts.js';
import { renderModels } from './models.js';
import { customerLink, failure, fmtDateTime, fmtDuration, fmtInt, fmtMoney, fmtNum, fmtPct, h, label, num, panel, table } from './dom.js';

export const TIER_ORDER = ['top_1', 'top_5', 'top_10', 'top_25', 'top_50', 'rest'];
export const RFM_ORDER = ['champions', 'loyal', 'potential_loyalists', 'new', 'promising', 'need_attention', 'about_to_sleep', 'at_risk', 'cant_lose_them', 'hibernating', 'lost'];
export const CHURN_ORDER = ['low', 'medium', 'high', 'critical'];
const ORDER = { VALUE_TIER: TIER_ORDER, RFM: RFM_ORDER, CHURN_RISK: CHURN_ORDER };
const TONE = {
  champions: 'bar--good', loyal: 'bar--good', potential_loyalists: 'bar--accent', new: 'bar--accent', promising: 'bar--accent',
  need_attention: 'bar--warn', about_to_sleep: 'bar--warn', at_risk: 'bar--bad', cant_lose_them: 'bar--bad', hibernating: 'bar--muted', lost: 'bar--muted',
  low: 'bar--good', medium: 'bar--accent', high: 'bar--warn', critical: 'bar--bad',
};
const byOrder = (order) => (a, b) => (order.indexOf(a) + 1 || 99) - (order.indexOf(b) + 1 || 99) || String(a).localeCompare(String(b));

const SEGMENTS = `query Segments($kind: SegmentKind) { segments(kind: $kind) { kind name customerCount share predictedValue averagePredictedValue historicalValue valueShare averageChurnRisk } }`;
const HISTOGRAM = `query Histogram { clvHistogram(bins: 30, log: true) { lower upper count } }`;
const TRANSITIONS = `query Transitions($kind: SegmentKind) { segmentTransitions(kind: $kind) { kind fromRunId toRunId moved cells { from to count } } }`;
const MODELS = `query Models { models(first: 20) { id kind status horizonDays cutoff trainingRows isChampion createdAt finishedAt metrics featureImportances error } }`;
const JOBS = `query Jobs { health { jobs } jobRuns(first: 12) { nodes { id name state progress message error attempts maxAttempts createdAt startedAt finishedAt } } }`;
const TOP = `query Top { customers(orderBy: { field: PREDICTED_CLV, direction: DESC }, first: 10) { nodes { externalId region stats { orderCount totalSpend lastPurchaseAt } score { clv churnRisk tier segment } } } }`;

export function renderOverview(main) {
  const timers = [];
  const kpis = h('section', { class: 'kpis', id: 'kpis', 'aria-label': 'Key figures', dataset: { state: 'loading' } });
  const hist = panel('clv-histogram', 'Predicted CLV distribution', { subtitle: 'Champion model, customers per log-spaced CLV bin' });
  const share = panel('value-share', 'Value concentration', { subtitle: 'Share of total predicted CLV brought by the top X% of customers' });
  const rfm = panel('segments', 'Segments', { subtitle: 'RFM segments of the latest scoring run: customers and share of predicted value' });
  const kindSelect = h('select', { id: 'transition-kind', 'aria-label': 'Segmentation' }, ['VALUE_TIER', 'RFM', 'CHURN_RISK'].map((k) => h('option', { value: k }, label(k.toLowerCase()))));
  const trans = panel('transitions', 'Segment transitions', { subtitle: 'Customers by segment in the previous run (rows) and the latest run (columns)', tools: kindSelect });
  const models = panel('models', 'Model versions', { subtitle: 'Holdout metrics; select a version for its decile calibration', wide: true });
  const jobs = panel('jobs', 'Jobs', { subtitle: 'Latest runs, refreshed every 5 s' });
  const top = panel('top-customers', 'Most valuable customers', { subtitle: 'Highest predicted CLV' });
  main.append(
    h('h1', { class: 'sr-only' }, 'ValueGraph overview'),
    kpis,
    h('div', { class: 'grid' }, hist.el, share.el, rfm.el, trans.el, models.el, jobs.el, top.el),
  );

  const tiers = gql(SEGMENTS, { kind: 'VALUE_TIER' }).then((d) => d.segments);
  const modelList = gql(MODELS).then((d) => d.models);
  const churn = gql(SEGMENTS, { kind: 'CHURN_RISK' }).then((d) => d.segments);
  for (const p of [tiers, modelList, churn]) p.catch(() => {});

  renderKpis(kpis, tiers, modelList, churn);
  gql(HISTOGRAM).then((d) => {
    const bins = d.clvHistogram;
    if (!bins.length || bins.every((b) => b.count === 0)) return hist.set('empty', h('p', { class: 'muted' }, 'No scores yet: train and promote a model.'));
    hist.set('ready', histogram(bins, { height: 290, summary: `Predicted CLV of ${fmtInt(bins.reduce((a, b) => a + b.count, 0))} customers in ${bins.length} log-spaced bins` }));
  }, (e) => failure(hist, e));
  tiers.then((rows) => renderValueShare(share, rows), (e) => failure(share, e));
  Promise.all([gql(SEGMENTS, { kind: 'RFM' }).then((d) => d.segments), churn.catch(() => [])]).then(([r, c]) => renderSegments(rfm, r, c), (e) => failure(rfm, e));
  const loadTransitions = () => gql(TRANSITIONS, { kind: kindSelect.value }).then((d) => renderTransitions(trans, d.segmentTransitions, kindSelect.value), (e) => failure(trans, e));
  kindSelect.addEventListener('change', loadTransitions);
  loadTransitions();
  modelList.then((list) => renderModels(models, list), (e) => failure(models, e));
  const loadJobs = () => gql(JOBS).then((d) => renderJobs(jobs, d), (e) => failure(jobs, e));
  loadJobs();
  timers.push(setInterval(() => document.hidden || loadJobs(), 5000));
  gql(TOP).then((d) => renderTop(top, d.customers.nodes), (e) => failure(top, e));
  return () => timers.forEach(clearInterval);
}

function kpi(title, value, note, id) {
  return h('div', { class: 'kpi', id }, h('div', { class: 'kpi__title' }, title), h('div', { class: 'kpi__value' }, value), h('div', { class: 'kpi__note' }, note ?? ''));
}

async function renderKpis(el, tiers, modelList, churn) {
  const [t, m, c] = await Promise.allSettled([tiers, modelList, churn]);
  const seg = t.status === 'fulfilled' ? t.value : null;
  const customers = seg ? seg.reduce((a, s) => a + s.customerCount, 0) : NaN;
  const total = seg ? seg.reduce((a, s) => a + num(s.predictedValue), 0) : NaN;
  const top10 = seg ? seg.filter((s) => ['top_1', 'top_5', 'top_10'].includes(s.name)).reduce((a, s) => a + s.valueShare, 0) : NaN;
  const champion = m.status === 'fulfilled' ? m.value.find((v) => v.isChampion) : null;
  const gini = champion?.metrics?.forest?.normalizedGini;
  const risky = c.status === 'fulfilled' ? c.value.filter((s) => s.name === 'high' || s.name === 'critical').reduce((a, s) => a + s.customerCount, 0) : NaN;
  const na = 'not available';
  el.append(
    kpi('Customers scored', fmtInt(customers), seg ? 'in the latest scoring run' : na, 'kpi-customers'),
    kpi('Total predicted CLV', fmtMoney(total), champion ? `next ${champion.horizonDays} days` : seg ? '' : na, 'kpi-total-clv'),
    kpi('Top 10% bring', fmtPct(top10), seg ? 'of predicted value' : na, 'kpi-top10'),
    kpi('Champion model', champion ? `#${champion.id} ${champion.kind}` : '—', champion ? `Gini ${fmtNum(gini)} on holdout` : 'no champion yet', 'kpi-champion'),
    kpi('High churn risk', fmtInt(risky), Number.isFinite(risky) ? 'customers (high + critical)' : na, 'kpi-churn'),
  );
  el.dataset.state = seg || champion ? 'ready' : 'unavailable';
}

function renderValueShare(p, rows) {
  if (!rows.length) return p.set('empty', h('p', { class: 'muted' }, 'No scoring run yet.'));
  const sorted = [...rows].sort((a, b) => byOrder(TIER_ORDER)(a.name, b.name)).filter((r) => r.name !== 'rest');
  let pop = 0;
  let val = 0;
  const bars = sorted.map((r) => {
    pop += r.share;
    val += r.valueShare;
    return { label: /^top_\d+$/.test(r.name) ? `Top ${r.name.slice(4)}%` : label(r.name), value: val, marker: pop, text: `bring ${fmtPct(val)}`, cls: 'bar--accent' };
  });
  const headline = bars.find((b) => b.label === 'Top 10%') ?? bars.at(-1);
  p.set(
    'ready',
    h('p', { class: 'headline' }, `${headline.label} of customers ${headline.text} of predicted value.`),
    hbars(bars, { max: 1, markerLabel: 'dashed line: share of customers', summary: bars.map((b) => `${b.label} ${b.text}`).join('; ') }),
    table(
      [
        { label: 'Tier', value: (r) => label(r.name) },
        { label: 'Customers', value: (r) => fmtInt(r.customerCount), cls: 'num' },
        { label: 'Avg predicted CLV', value: (r) => fmtMoney(r.averagePredictedValue), cls: 'num' },
        { label: 'Predicted value', value: (r) => fmtMoney(r.predictedValue), cls: 'num' },
        { label: 'Value share', value: (r) => fmtPct(r.valueShare), cls: 'num' },
        { label: 'Spend to date', value: (r) => fmtMoney(r.historicalValue), cls: 'num' },
      ],
      [...rows].sort((a, b) => byOrder(TIER_ORDER)(a.name, b.name)),
      { caption: 'Value tiers' },
    ),
  );
}

function renderSegments(p, rfm, churn) {
  if (!rfm.length) return p.set('empty', h('p', { class: 'muted' }, 'No scoring run yet.'));
  const rows = [...rfm].sort((a, b) => byOrder(RFM_ORDER)(a.name, b.name));
  const parts = [
    hbars(rows.map((r) => ({ label: label(r.name), value: r.customerCount, text: `${fmtInt(r.customerCount)} · ${fmtPct(r.valueShare, 0)} value`, cls: TONE[r.name] })), { labelWidth: 130, textWidth: 130 }),
  ];
  if (churn.length) {
    const c = [...churn].sort((a, b) => byOrder(CHURN_ORDER)(a.name, b.name));
    parts.push(h('h3', {}, 'Churn risk'), hbars(c.map((r) => ({ label: label(r.name), value: r.customerCount, text: `${fmtInt(r.customerCount)} · ${fmtPct(r.valueShare, 0)} value`, cls: TONE[r.name] })), { labelWidth: 130, textWidth: 130 }));
  }
  p.set('ready', ...parts);
}

function renderTransitions(p, t, kind) {
  if (!t || !t.cells.length) return p.set('empty', h('p', { class: 'muted' }, 'No scoring runs to compare yet.'));
  const order = ORDER[kind] ?? [];
  const froms = [...new Set(t.cells.map((c) => c.from ?? null))].sort((a, b) => (a === null ? 1 : b === null ? -1 : byOrder(order)(a, b)));
  const tos = [...new Set(t.cells.map((c) => c.to))].sort(byOrder(order));
  const count = new Map(t.cells.map((c) => [`${c.from ?? ''}→${c.to}`, c.count]));
  const max = Math.max(...t.cells.map((c) => c.count), 1);
  const total = t.cells.reduce((a, c) => a + c.count, 0);
  const cell = (from, to) => {
    const n = count.get(`${from ?? ''}→${to}`) ?? 0;
    const td = h('td', { class: `heat${from === to ? ' heat--stay' : ''}`, title: `${label(from)} → ${label(to)}: ${n}` }, n ? fmtInt(n) : '');
    // CSSOM, not a style attribute: allowed by the page's strict CSP.
    if (n) td.style.backgroundColor = `rgba(53, 99, 233, ${(0.08 + 0.75 * (n / max)).toFixed(3)})`;
    if (n / max > 0.55) td.classList.add('heat--dark');
    return td;
  };
  p.set(
    'ready',
    h('p', { class: 'headline' }, `${fmtInt(t.moved)} of ${fmtInt(total)} customers changed segment`, t.fromRunId ? ` (run #${t.fromRunId} → #${t.toRunId}).` : ` (first run #${t.toRunId}).`),
    h('div', { class: 'scroll' },
      h('table', { class: 'table matrix' },
        h('caption', { class: 'sr-only' }, 'Segment transition counts'),
        h('thead', {}, h('tr', {}, h('th', { scope: 'col' }, 'from ↓ / to →'), tos.map((to) => h('th', { scope: 'col' }, label(to))))),
        h('tbody', {}, froms.map((from) => h('tr', {}, h('th', { scope: 'row' }, from === null ? 'not in previous' : label(from)), tos.map((to) => cell(from, to))))),
      ),
    ),
  );
}

function renderJobs(p, d) {
  const runs = d.jobRuns.nodes;
  const monitor = d.health.jobs === 'bullmq' ? h('p', { class: 'muted' }, h('a', { href: '/admin/queues' }, 'Open the BullMQ job monitor'), ' (admin key)') : null;
  if (!runs.length) return p.set('empty', h('p', { class: 'muted' }, 'No job runs yet.'), monitor);
  const duration = (r) => (r.startedAt ? fmtDuration((r.finishedAt ? Date.parse(r.finishedAt) : Date.now()) - Date.parse(r.startedAt)) : '—');
  p.set(
    'ready',
    h('div', { class: 'scroll scroll--short' },
      table(
        [
          { label: 'Job', value: (r) => h('span', { title: r.id }, r.name) },
          { label: 'State', value: (r) => h('span', { class: `badge badge--${r.state}` }, r.state) },
          { label: 'Progress', value: (r) => h('progress', { max: '1', value: String(r.progress), 'aria-label': `${r.name} progress` }, fmtPct(r.progress, 0)) },
          { label: 'Message', value: (r) => h('span', { class: 'ellipsis', title: r.error ?? r.message ?? '' }, r.error ?? r.message ?? '') },
          { label: 'Tries', value: (r) => `${r.attempts}/${r.maxAttempts}`, cls: 'num' },
          { label: 'Took', value: duration, cls: 'num' },
          { label: 'Created', value: (r) => fmtDateTime(r.createdAt) },
        ],
        runs,
        { caption: 'Latest job runs' },
      ),
    ),
    h('p', { class: 'muted small' }, `Updated ${new Date().toLocaleTimeString()}`),
    monitor,
  );
}

function renderTop(p, rows) {
  if (!rows.length) return p.set('empty', h('p', { class: 'muted' }, 'No customers yet.'));
  p.set(
    'ready',
    h('div', { class: 'scroll' }, table(
      [
        { label: 'Customer', value: (c) => customerLink(c.externalId) },
        { label: 'Region', value: (c) => c.region ?? '—' },
        { label: 'Predicted CLV', value: (c) => fmtMoney(c.score?.clv), cls: 'num' },
        { label: 'Spend to date', value: (c) => fmtMoney(c.stats.totalSpend), cls: 'num' },
        { label: 'Orders', value: (c) => fmtInt(c.stats.orderCount), cls: 'num' },
        { label: 'Tier', value: (c) => label(c.score?.tier ?? '—') },
        { label: 'Churn risk', value: (c) => fmtPct(c.score?.churnRisk, 0), cls: 'num' },
      ],
      rows,
      { caption: 'Customers with the highest predicted CLV' },
    )),
  );
}

