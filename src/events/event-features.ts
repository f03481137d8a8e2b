import { EVENT_TYPES, type EventType } from './events.schemas';

/**
 * Event feature group `events-v1`: pure functions of one customer's events STRICTLY before asOf (and their purchase
 * times, for browse-to-buy). Later events are dropped here, so no caller can leak the label window by passing too
 * much. Bump EVENT_FEATURE_SET when a definition changes meaning.
 *
 *   evt_<type>_<w>d                 events of that type with asOf − w days ≤ at < asOf, w ∈ 7, 30, 90
 *   evt_total_90d                   all events in the last 90 days
 *   evt_days_since_last             days from the last event (any type, any age) to asOf; −1 without events
 *   evt_sessions_90d                sessions in the last 90 days: a session ends after 30 minutes without an event
 *   evt_search_session_share_90d    share of those sessions with at least one search; −1 without sessions
 *   evt_distinct_categories_viewed_90d   distinct categories of page_view / product_view events, last 90 days
 *   evt_browse_to_buy_90d           (page_view + product_view) / (purchases + 1), last 90 days (smoothed: defined
 *                                   without purchases; 0 without views)
 */
export const EVENT_FEATURE_SET = 'events-v1';
export const EVENT_WINDOWS = [7, 30, 90] as const;
export const SESSION_GAP_MS = 30 * 60_000;
const DAY_MS = 86_400_000;
const MISSING = -1;
const LOOKBACK_MS = 90 * DAY_MS;

export interface BehaviourEvent {
  /** epoch ms */
  at: number;
  type: EventType;
  category?: string | null;
}

export const EVENT_FEATURE_NAMES: readonly string[] = [
  ...EVENT_TYPES.flatMap((t) => EVENT_WINDOWS.map((w) => `evt_${t}_${w}d`)),
  'evt_total_90d',
  'evt_days_since_last',
  'evt_sessions_90d',
  'evt_search_session_share_90d',
  'evt_distinct_categories_viewed_90d',
  'evt_browse_to_buy_90d',
];

const TYPE_INDEX = new Map<string, number>(EVENT_TYPES.map((t, i) => [t, i]));
const isView = (t: EventType) => t === 'page_view' || t === 'product_view';

/** Values in EVENT_FEATURE_NAMES order. `purchaseTimes`: epoch ms of purchase transactions (any order, any time). */
export function computeEventFeatures(events: readonly BehaviourEvent[], purchaseTimes: readonly number[], asOf: number): Float64Array {
  const nTypes = EVENT_TYPES.length;
  const nWin = EVENT_WINDOWS.length;
  const out = new Float64Array(EVENT_FEATURE_NAMES.length);
  const recent: BehaviourEvent[] = [];
  let last = -Infinity;
  for (const e of events) {
    if (!(e.at < asOf)) continue;
    if (e.at > last) last = e.at;
    const age = asOf - e.at;
    const ti = TYPE_INDEX.get(e.type);
    if (ti === undefined) continue;
    for (let k = 0; k < nWin; k++) if (age <= EVENT_WINDOWS[k]! * DAY_MS) out[ti * nWin + k]!++;
    if (age <= LOOKBACK_MS) recent.push(e);
  }
  let i = nTypes * nWin;
  out[i++] = recent.length;
  out[i++] = last === -Infinity ? MISSING : (asOf - last) / DAY_MS;

  recent.sort((a, b) => a.at - b.at);
  let sessions = 0;
  let withSearch = 0;
  let inSession = false;
  let sessionHasSearch = false;
  let prev = -Infinity;
  const categories = new Set<string>();
  let views = 0;
  for (const e of recent) {
    if (!inSession || e.at - prev > SESSION_GAP_MS) {
      if (inSession && sessionHasSearch) withSearch++;
      sessions++;
      inSession = true;
      sessionHasSearch = false;
    }
    prev = e.at;
    if (e.type === 'search') sessionHasSearch = true;
    if (isView(e.type)) {
      views++;
      if (e.category) categories.add(e.category);
    }
  }
  if (inSession && sessionHasSearch) withSearch++;
  let purchases = 0;
  for (const t of purchaseTimes) if (t < asOf && asOf - t <= LOOKBACK_MS) purchases++;
  out[i++] = sessions;
  out[i++] = sessions ? withSearch / sessions : MISSING;
  out[i++] = categories.size;
  out[i++] = views / (purchases + 1);
  return out;
}

export function eventFeatureRecord(events: readonly BehaviourEvent[], purchaseTimes: readonly number[], asOf: number): Record<string, number> {
  const v = computeEventFeatures(events, purchaseTimes, asOf);
  const r: Record<string, number> = {};
  EVENT_FEATURE_NAMES.forEach((n, k) => {
    r[n] = v[k]!;
  });
  return r;
}
