// Model versions: the registry table with holdout metrics, and for the selected version its decile calibration,
// the comparison with the baselines on the same held-out customers, and the top feature importances.
import { groupedBars, hbars } from './charts.js';
import { fmtDate, fmtDateTime, fmtInt, fmtMoney, fmtNum, fmtPct, h, label, table } from './dom.js';

const METRIC_ROWS = [
  ['normalizedGini', 'Gini (normalized)', (v) => fmtNum(v)],
  ['spearman', 'Spearman', (v) => fmtNum(v)],
  ['topDecileShare', 'Top-decile share', (v) => fmtPct(v)],
  ['mae', 'MAE', (v) => fmtMoney(v)],
  ['rmse', 'RMSE', (v) => fmtMoney(v)],
];
const MODEL_NAMES = { forest: 'CLV forest', bgnbd_gg: 'BG/NBD + Gamma-Gamma', naive: 'naive' };

export function renderModels(p, list) {
  if (!list.length) return p.set('empty', h('p', { class: 'muted' }, 'No model versions yet: run retrainModel or bin/valuegraph train.'));
  const detail = h('div', { class: 'model-detail', id: 'model-detail' });
  let selected = (list.find((m) => m.isChampion) ?? list.find((m) => m.status === 'ready') ?? list[0]).id;
  const rowsEl = () =>
    table(
      [
        { label: 'Version', value: (m) => h('button', { type: 'button', class: 'linkish', 'aria-pressed': String(m.id === selected), onclick: () => select(m.id) }, `#${m.id}`) },
        { label: 'Kind', value: (m) => [m.kind, m.isChampion ? h('span', { class: 'badge badge--good' }, 'champion') : null] },
        { label: 'Status', value: (m) => h('span', { class: `badge badge--${m.status}` }, m.status) },
        { label: 'Horizon', value: (m) => `${m.horizonDays} d`, cls: 'num' },
        { label: 'Cutoff', value: (m) => fmtDate(m.cutoff) },
        { label: 'Training rows', value: (m) => fmtInt(m.trainingRows), cls: 'num' },
        { label: 'Gini forest', value: (m) => fmtNum(m.metrics?.forest?.normalizedGini), cls: 'num' },
        { label: 'Gini BG/NBD', value: (m) => fmtNum(m.metrics?.bgnbd_gg?.normalizedGini), cls: 'num' },
        { label: 'Top-decile share', value: (m) => fmtPct(m.metrics?.forest?.topDecileShare), cls: 'num' },
        { label: 'Created', value: (m) => fmtDateTime(m.createdAt) },
      ],
      list,
      { caption: 'Model versions', rowAttrs: (m) => ({ class: m.id === selected ? 'is-selected' : undefined }) },
    );
  const tableBox = h('div', { class: 'scroll scroll--short' }, rowsEl());
  const select = (id) => {
    selected = id;
    tableBox.replaceChildren(rowsEl());
    renderModelDetail(detail, list.find((m) => m.id === id));
  };
  p.set('ready', tableBox, detail);
  renderModelDetail(detail, list.find((m) => m.id === selected));
}

function renderModelDetail(el, m) {
  el.replaceChildren();
  const metrics = m.metrics ?? {};
  // JSONB does not keep key order: the forest first, then the baselines.
  const rank = (k) => (Object.keys(MODEL_NAMES).indexOf(k) + 1 || 99);
  const names = Object.keys(metrics).filter((k) => Array.isArray(metrics[k]?.calibration)).sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  if (!names.length) {
    el.append(h('p', { class: 'muted' }, m.error ? `Version #${m.id} failed: ${m.error}` : `Version #${m.id} has no holdout metrics.`));
    return;
  }
  const imp = Object.entries(m.featureImportances ?? {}).filter(([, v]) => Number.isFinite(v)).sort((a, b) => b[1] - a[1]).slice(0, 8);
  const impMax = Math.max(...imp.map(([, v]) => v), 1e-9);
  // Each model's calibration groups the holdout by its own predictions, so one model is shown at a time.
  const which = h('select', { id: 'calibration-model', 'aria-label': 'Model to show' }, names.map((n) => h('option', { value: n }, MODEL_NAMES[n] ?? n)));
  const chart = h('div', { class: 'chart-box' });
  const draw = () => {
    const rows = metrics[which.value].calibration;
    const val = (k) => rows.map((r) => (r[k] === null || r[k] === undefined ? NaN : r[k]));
    const name = MODEL_NAMES[which.value] ?? which.value;
    chart.replaceChildren(
      groupedBars(rows.map((r) => `D${r.decile}`), [{ name: 'actual', cls: 'bar--muted', values: val('meanActual') }, { name: `predicted (${name})`, cls: 'bar--accent', values: val('meanPredicted') }], {
        summary: `Decile calibration of ${name} in model version ${m.id}: mean predicted and mean actual value per decile`,
      }),
    );
  };
  which.addEventListener('change', draw);
  draw();
  el.append(
    h('div', { class: 'model-detail__chart', id: 'calibration' },
      h('div', { class: 'panel__head' }, h('div', {}, h('h3', {}, `Decile calibration · version #${m.id}`),
        h('p', { class: 'panel__subtitle' }, 'Mean predicted vs mean actual value per decile of the model’s predictions (D10 = highest), held-out customers')), which),
      chart,
    ),
    h('div', { class: 'model-detail__side' },
      h('h3', {}, 'Holdout comparison'),
      table([{ label: 'Metric', value: (r) => r[1] }, ...names.map((n) => ({ label: MODEL_NAMES[n] ?? n, value: (r) => r[2](metrics[n]?.[r[0]]), cls: 'num' }))], METRIC_ROWS, { caption: 'Holdout metrics per model' }),
      imp.length ? [h('h3', {}, 'Top features'), hbars(imp.map(([k, v]) => ({ label: label(k), value: v, text: fmtNum(v / impMax, 2) })), { width: 420, labelWidth: 170, textWidth: 50, rowHeight: 20, max: impMax })] : null,
    ),
  );
}
