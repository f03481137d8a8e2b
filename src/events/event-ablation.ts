import { badInput } from '../lib/errors';
import { readRecordsFile } from '../lib/records-file';
import type { History } from '../models/clv/clv-baselines';
import type { MetricSet } from '../models/clv/clv-metrics';
import { type FeatureGroup, evaluateHistories } from '../models/evaluate/evaluate';
import { type BehaviourEvent, EVENT_FEATURE_NAMES, EVENT_FEATURE_SET, eventFeatureRecord } from './event-features';
import { EVENT_TYPES, type EventType } from './events.schemas';

/**
 * `valuegraph evaluate --events FILE`: the event group in file mode, from the same pure definitions the database
 * paths use. The file is the import's generic layout (NDJSON or CSV, optionally .gz): customer_id, occurred_at,
 * type, category; other columns are ignored. customer_id must match the transactions file's customer ids as the
 * evaluation reads them (Online Retail: the integer id, e.g. 13085).
 */
export function readEventsFile(file: string): Map<string, BehaviourEvent[]> {
  const records = readRecordsFile(file, '--events');
  const types = new Set<string>(EVENT_TYPES);
  const out = new Map<string, BehaviourEvent[]>();
  records.forEach((r, i) => {
    const customer = String(r.customer_id ?? r.customerExternalId ?? '').trim();
    const at = Date.parse(String(r.occurred_at ?? r.occurredAt ?? ''));
    const type = String(r.type ?? '');
    if (!customer || !Number.isFinite(at) || !types.has(type)) {
      throw badInput('events file: every row needs customer_id, occurred_at (ISO-8601) and a known type', [{ row: i + 1, field: 'row', message: JSON.stringify(r).slice(0, 200) }]);
    }
    let list = out.get(customer);
    if (!list) out.set(customer, (list = []));
    list.push({ at, type: type as EventType, category: r.category == null || r.category === '' ? null : String(r.category) });
  });
  return out;
}

/** Every customer of the histories gets values (zeros / −1 without events), as in the database paths. */
export function eventFeatureGroup(events: ReadonlyMap<string, readonly BehaviourEvent[]>, histories: readonly History[]): FeatureGroup {
  const purchases = new Map(histories.map((h) => [h.key, h.events.filter((e) => e.kind === 'purchase').map((e) => e.at)]));
  return {
    name: EVENT_FEATURE_SET,
    names: EVENT_FEATURE_NAMES,
    at(asOf) {
      const m = new Map<string, Record<string, number>>();
      for (const h of histories) m.set(h.key, eventFeatureRecord(events.get(h.key) ?? [], purchases.get(h.key) ?? [], asOf));
      return m;
    },
  };
}

/** Forest metrics without and with the event group (baselines do not use features: shown once). */
export function formatAblation(without: Record<string, MetricSet>, withEvents: Record<string, MetricSet>, matched: number, customers: number): string {
  const keys = ['mae', 'rmse', 'spearman', 'normalizedGini', 'topDecileShare'] as const;
  const f = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? 'n/a' : Math.abs(v) >= 100 ? v.toFixed(1) : v.toFixed(3));
  const row = (label: string, m: MetricSet | undefined) => `| ${label} | ${keys.map((k) => f(m?.[k])).join(' | ')} |`;
  return [
    `ablation: event features (${EVENT_FEATURE_SET}, ${EVENT_FEATURE_NAMES.length} columns); ${matched} of ${customers} customers have events in the file`,
    '',
    `| model | ${keys.join(' | ')} |`,
    `|---|${keys.map(() => '---:').join('|')}|`,
    row('forest without events', without.forest),
    row('forest with events', withEvents.forest),
    row('BG/NBD + Gamma-Gamma', withEvents.bgnbd_gg),
    row('naive', withEvents.naive),
    '',
  ].join('\n');
}

/**
 * The same evaluation again with the event group added (same cutoff, grid and seed, settings re-chosen blind with
 * the extra columns): the caller already holds the run without it.
 */
export function runEventAblation(
  histories: readonly History[],
  file: string,
  opts: Omit<Parameters<typeof evaluateHistories>[1], 'featureGroups'>,
): { metrics: Record<string, MetricSet>; matched: number; customers: number; selection: unknown } {
  const events = readEventsFile(file);
  const matched = histories.filter((h) => events.has(h.key)).length;
  const r = evaluateHistories(histories, { ...opts, featureGroups: [eventFeatureGroup(events, histories)] });
  return { metrics: r.metrics, matched, customers: histories.length, selection: r.selection.chosen };
}
