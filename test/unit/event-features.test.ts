import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { eventFeatureGroup, readEventsFile } from '../../src/events/event-ablation';
import { type BehaviourEvent, computeEventFeatures, EVENT_FEATURE_NAMES, eventFeatureRecord } from '../../src/events/event-features';
import { parseEventFast } from '../../src/events/event-row.fast';
import { eventRow } from '../../src/events/events.schemas';

const DAY = 86_400_000;
const MIN = 60_000;
const asOf = Date.UTC(2024, 5, 1);
const at = (daysBefore: number, plusMinutes = 0) => asOf - daysBefore * DAY + plusMinutes * MIN;

const events: BehaviourEvent[] = [
  { at: at(1), type: 'page_view', category: 'shoes' },
  { at: at(1, 10), type: 'search' },
  { at: at(1, 50), type: 'product_view', category: 'shoes' }, // 40 min after the search: a new session
  { at: at(20), type: 'product_view', category: 'hats' },
  { at: at(20, 5), type: 'add_to_cart', category: 'hats' },
  { at: at(60), type: 'like' },
  { at: at(60, 31), type: 'search' }, // 31 min after the like: a new session
  { at: at(200), type: 'share' }, // outside every window
];
const purchases = [at(10), at(100), asOf + DAY];

describe('event features (events-v1)', () => {
  it('computes the documented values by hand', () => {
    const f = eventFeatureRecord(events, purchases, asOf);
    expect([f.evt_page_view_7d, f.evt_page_view_30d, f.evt_page_view_90d]).toEqual([1, 1, 1]);
    expect([f.evt_search_7d, f.evt_search_30d, f.evt_search_90d]).toEqual([1, 1, 2]);
    expect([f.evt_product_view_7d, f.evt_product_view_30d, f.evt_product_view_90d]).toEqual([1, 2, 2]);
    expect([f.evt_add_to_cart_7d, f.evt_add_to_cart_30d, f.evt_add_to_cart_90d]).toEqual([0, 1, 1]);
    expect([f.evt_like_7d, f.evt_like_30d, f.evt_like_90d]).toEqual([0, 0, 1]);
    expect([f.evt_share_90d, f.evt_follow_90d, f.evt_other_90d]).toEqual([0, 0, 0]);
    expect(f.evt_total_90d).toBe(7);
    expect(f.evt_days_since_last).toBeCloseTo(1 - 50 / 1440, 10);
    // Sessions: [like] [search] [product_view, add_to_cart] [page_view, search] [product_view].
    expect(f.evt_sessions_90d).toBe(5);
    expect(f.evt_search_session_share_90d).toBeCloseTo(2 / 5, 12);
    expect(f.evt_distinct_categories_viewed_90d).toBe(2); // shoes, hats (add_to_cart is not a view)
    // Views: page_view + 2 product_views = 3; purchases in the last 90 days: 1 (the others are too old or later).
    expect(f.evt_browse_to_buy_90d).toBeCloseTo(3 / 2, 12);
    expect(Object.keys(f)).toEqual([...EVENT_FEATURE_NAMES]);
  });

  it('ignores events and purchases at or after the cutoff', () => {
    const before = computeEventFeatures(events, purchases, asOf);
    const later: BehaviourEvent[] = [
      { at: asOf, type: 'page_view', category: 'new' },
      { at: asOf + MIN, type: 'search' },
      { at: asOf + 30 * DAY, type: 'product_view', category: 'other' },
    ];
    const after = computeEventFeatures([...later, ...events].reverse(), [...purchases, asOf, asOf + 2 * DAY], asOf);
    expect([...after]).toEqual([...before]);
    // The same events counted one day later do change the values: the filter is the cutoff, not the data.
    const nextDay = eventFeatureRecord([...events, ...later], purchases, asOf + DAY);
    expect(nextDay.evt_page_view_7d).toBe(2);
    expect(nextDay.evt_days_since_last).toBeCloseTo((DAY - MIN) / DAY, 10);
  });

  it('encodes "no events" and "only old events" apart from zero activity', () => {
    const none = eventFeatureRecord([], [], asOf);
    expect(none.evt_days_since_last).toBe(-1);
    expect(none.evt_search_session_share_90d).toBe(-1);
    expect(none.evt_total_90d).toBe(0);
    expect(none.evt_browse_to_buy_90d).toBe(0);
    const old = eventFeatureRecord([{ at: at(200), type: 'share' }], [], asOf);
    expect(old.evt_days_since_last).toBe(200);
    expect(old.evt_share_90d).toBe(0);
    expect(old.evt_sessions_90d).toBe(0);
  });
});

describe('event row schema', () => {
  const ok = { externalId: 'e1', customerExternalId: 'c1', occurredAt: '2024-01-01T00:00:00Z', type: 'search', text: 'red shoes' };
  it('accepts a valid row and normalises blank text to null', () => {
    expect(eventRow.parse(ok).text).toBe('red shoes');
    expect(eventRow.parse({ ...ok, text: '   ' }).text).toBeNull();
  });
  it('names every bad field', () => {
    const r = eventRow.safeParse({ ...ok, type: 'click', occurredAt: '2024-01-01', text: 'x'.repeat(2001), properties: [1] });
    expect(r.success).toBe(false);
    expect(r.error!.issues.map((i) => i.path.join('.')).sort()).toEqual(['occurredAt', 'properties', 'text', 'type']);
  });
});

describe('the import fast path for event rows', () => {
  const valid = { externalId: ' e1 ', customerExternalId: 'c1', occurredAt: '2024-01-01T10:00:00.123+02:00', type: 'search', text: 'shoes', category: ' x ', properties: { a: 1 } };

  it('takes the common valid row and returns exactly what the zod schema returns', () => {
    const fast = parseEventFast(valid);
    expect(fast).not.toBeNull();
    expect(fast).toEqual(eventRow.parse(valid));
    expect(parseEventFast({ ...valid, occurredAt: new Date() })).toBeNull(); // left to zod
  });

  it('never accepts what zod rejects, and agrees on the output (property)', () => {
    const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
    const text = fc.oneof(fc.string({ maxLength: 5, unit: 'binary' }), fc.constantFrom('a\u0000b', '\uD800x','', '  ', ' a ', 'x'.repeat(200), ` ${'x'.repeat(200)}`, 'x'.repeat(201), 'y'.repeat(2001)));
    // Mostly valid values, so the fast path is exercised, mixed with every kind of bad one.
    const mostly = <T, U>(good: fc.Arbitrary<T>, bad: fc.Arbitrary<U>) => fc.oneof({ arbitrary: good, weight: 4 }, { arbitrary: bad, weight: 1 });
    const row = fc.record(
      {
        externalId: mostly(fc.constantFrom('e1', ' e2 ', 'x'.repeat(200)), fc.oneof(text, fc.integer())),
        customerExternalId: mostly(fc.constantFrom('c1', 'c 2'), text),
        occurredAt: mostly(
          fc.constantFrom('2024-01-01T00:00:00Z', '2024-01-01T00:00Z', '2024-02-29T10:00:00Z', '2024-01-01T00:00:00.5-03:00'),
          fc.oneof(
            fc.constantFrom('2024-02-30T00:00:00Z', '2023-02-29T10:00:00Z', '2024-01-01T24:00:00Z', '0000-01-01T00:00:00Z', '1969-12-31T23:59:59Z', '2999-01-01T00:00:00Z', '2024-01-01', '2024-01-01T00:00:00+0530', '2024-01-01T00:00:00+25:00'),
            fc.string(),
          ),
        ),
        type: mostly(fc.constantFrom('search', 'like', 'page_view', 'other'), fc.oneof(fc.constantFrom('click', 'Search'), fc.string())),
        productId: maybe(mostly(fc.constantFrom('p1', ' p2 ', null), fc.oneof(text, fc.integer()))),
        category: maybe(mostly(fc.constantFrom('cat', null, ''), text)),
        text: maybe(mostly(fc.constantFrom('red shoes', '  ', null), fc.oneof(text, fc.integer()))),
        properties: maybe(mostly(fc.oneof(fc.constant(null), fc.dictionary(fc.string({ maxLength: 3 }), fc.integer())), fc.oneof(fc.array(fc.integer()), fc.constant({ big: 'z'.repeat(17_000) }), fc.constant({ 'k\u0000': 1 }), fc.constant({ k: '\uDC00' })))),
      },
      { requiredKeys: [] },
    );
    let taken = 0;
    fc.assert(
      fc.property(row, (r) => {
        const fast = parseEventFast(r);
        if (fast === null) return;
        taken++;
        const z = eventRow.safeParse(r);
        expect(z.success).toBe(true);
        expect(fast).toEqual(z.data);
      }),
      { numRuns: 3000 },
    );
    // The property means something only if the fast path really took a share of the generated rows.
    expect(taken).toBeGreaterThan(30);
  });
});

describe('evaluate --events (file mode)', () => {
  it('reads an events file and gives every customer of the histories the same values as the pure definitions', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-ev-unit-'));
    try {
      const file = path.join(dir, 'events.ndjson');
      const rows = [
        { customer_id: '1', occurred_at: '2024-05-30T10:00:00Z', type: 'search' },
        { customer_id: '1', occurred_at: '2024-05-31T10:00:00Z', type: 'product_view', category: 'hats' },
        { customer_id: '1', occurred_at: '2024-06-02T10:00:00Z', type: 'product_view', category: 'later' },
        { customer_id: 'nobody', occurred_at: '2024-05-31T10:00:00Z', type: 'like' },
      ];
      fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n'));
      const events = readEventsFile(file);
      const histories = [
        { key: '1', events: [{ at: Date.UTC(2024, 4, 20), amount: 10, kind: 'purchase' as const }], attrs: {} },
        { key: '2', events: [], attrs: {} },
      ];
      const group = eventFeatureGroup(events, histories);
      const m = group.at(asOf);
      expect([...m.keys()]).toEqual(['1', '2']);
      expect(m.get('1')).toEqual(eventFeatureRecord(events.get('1')!, [Date.UTC(2024, 4, 20)], asOf));
      expect(m.get('1')).toMatchObject({ evt_search_7d: 1, evt_product_view_7d: 1, evt_distinct_categories_viewed_90d: 1, evt_browse_to_buy_90d: 0.5 });
      expect(m.get('2')).toEqual(eventFeatureRecord([], [], asOf));
      fs.writeFileSync(file, JSON.stringify({ customer_id: '1', occurred_at: 'soon', type: 'search' }));
      expect(() => readEventsFile(file)).toThrow(/occurred_at/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
