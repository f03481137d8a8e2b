import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { App } from '../../src/app';
import { loadEventFeatures } from '../../src/events/event-features.loader';
import { ensureEventCustomers, ingestEventBatch, textHash, upsertEvents } from '../../src/events/events-ingest.service';
import { EventsCopyPool } from '../../src/events/events-copy.pool';
import { EventsCopyWriter, type EventsCopyResult } from '../../src/events/events-copy.writer';
import type { EventRow } from '../../src/events/events.schemas';
import { REFRESH_DEDUPE_KEY } from '../../src/features/feature-refresh.enqueue';
import { embedPendingSearches, refreshSearchProfiles } from '../../src/events/search-embed.service';
import { searchInterestFeatures } from '../../src/events/search-features';
import { DEFAULT_CONCEPTS } from '../../src/embeddings/concepts';
import { materializeFeatures } from '../../src/features/feature-store.service';
import { runImport } from '../../src/ingest/import/import.runner';
import { DomainError } from '../../src/lib/errors';
import { gql } from '../helpers/processes';
import { backend, uid } from '../helpers/test-env';

/** The first GraphQL error of a response, loosely typed (extensions carry issues). */
const firstError = (r: { body: { errors?: unknown[] } }) => (r.body.errors ?? [])[0] as { extensions: { code: string; issues: { row: number; field: string }[] } };
import { type TestServer, startTestServer } from '../helpers/test-server';
import { KeywordProvider } from '../unit/embeddings-fake-provider';

jest.setTimeout(120_000);

const INGEST = `mutation($rows: [EventInput!]!, $customers: [CustomerInput!]) {
  ingestEvents(rows: $rows, customers: $customers) { received inserted updated unchanged customers { inserted } embeddingJob { id name } } }`;
const TIMELINE = `query($ext: String!, $first: Int, $after: String, $kinds: [TimelineKind!]) {
  customer(externalId: $ext) { timeline(first: $first, after: $after, kinds: $kinds) {
    edges { cursor node { occurredAt kind node { __typename ... on Transaction { externalId } ... on Comment { externalId }
      ... on Event { externalId type text } } } }
    pageInfo { hasNextPage endCursor } } } }`;

describe(`events on ${backend}`, () => {
  let server: TestServer;
  let app: App;
  let dir: string;
  beforeAll(async () => {
    server = await startTestServer();
    app = server.app;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vg-events-int-'));
  }, 60_000);
  afterAll(async () => {
    await server?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  const ev = (c: string, n: number, over: Record<string, unknown> = {}) => ({
    externalId: `${c}-e${n}`,
    customerExternalId: c,
    occurredAt: `2024-03-0${n}T10:00:00Z`,
    type: 'page_view',
    ...over,
  });

  it('ingests over GraphQL idempotently, queues search embeddings, and marks features stale', async () => {
    const c = uid('ev');
    const rows = [ev(c, 1, { category: 'shoes', properties: { path: '/shoes' } }), ev(c, 2, { type: 'search', text: 'red running shoes' })];
    const first = await gql(server.url, server.keys.writer, INGEST, { rows, customers: [{ externalId: c }] });
    expect(first.body.errors).toBeUndefined();
    expect(first.body.data.ingestEvents).toMatchObject({ received: 2, inserted: 2, updated: 0, unchanged: 0, customers: { inserted: 1 } });
    expect(first.body.data.ingestEvents.embeddingJob).toMatchObject({ name: 'embeddings.embed-searches' });
    const again = await gql(server.url, server.keys.writer, INGEST, { rows });
    expect(again.body.data.ingestEvents).toMatchObject({ received: 2, inserted: 0, updated: 0, unchanged: 2, embeddingJob: null });
    const changed = await gql(server.url, server.keys.writer, INGEST, { rows: [{ ...rows[1], text: 'blue running shoes' }] });
    expect(changed.body.data.ingestEvents).toMatchObject({ updated: 1 });
    expect(changed.body.data.ingestEvents.embeddingJob).not.toBeNull();
    const stored = await app.db.prisma.event.findMany({ where: { customer: { externalId: c } }, orderBy: { occurredAt: 'asc' } });
    expect(stored.map((e) => [e.type, e.text, e.properties])).toEqual([
      ['page_view', null, { path: '/shoes' }],
      ['search', 'blue running shoes', {}],
    ]);
    expect((await app.db.prisma.customer.findUniqueOrThrow({ where: { externalId: c } })).featuresStaleAt).not.toBeNull();
    // Readers cannot ingest.
    expect(firstError(await gql(server.url, server.keys.reader, INGEST, { rows })).extensions.code).toBe('FORBIDDEN');
  });

  it('reports every bad row with its index and field and writes nothing', async () => {
    const c = uid('ev');
    const rows = [
      ev(c, 1),
      ev(c, 2, { type: 'click' }),
      ev(c, 3, { occurredAt: 'yesterday' }),
      ev(c, 1, { type: 'like' }),
      ev(c, 5, { properties: 'not an object' }),
    ];
    const r = await gql(server.url, server.keys.writer, INGEST, { rows, customers: [{ externalId: c }, { externalId: '' }] });
    expect(firstError(r).extensions.code).toBe('BAD_USER_INPUT');
    const issues = firstError(r).extensions.issues.map((i) => `${i.row}:${i.field}`).sort();
    expect(issues).toEqual(['1:customers.externalId', '1:type', '2:occurredAt', '3:externalId', '4:properties']);
    // The customers of the same call are rolled back too.
    const unknown = await ingestEventBatch(app.db.prisma, [ev(c, 1), ev(`${c}-nobody`, 2)], [{ externalId: c }]).catch((e) => e);
    expect(unknown).toBeInstanceOf(DomainError);
    expect(unknown.details.issues).toEqual([{ row: 1, field: 'customerExternalId', message: `unknown customer "${c}-nobody"` }]);
    expect(await app.db.prisma.event.count({ where: { externalId: { startsWith: `${c}-` } } })).toBe(0);
    expect(await app.db.prisma.customer.count({ where: { externalId: c } })).toBe(0);
  });

  it('pages through the merged timeline without gaps or repeats, and filters by kind', async () => {
    const c = uid('tl');
    const p = app.db.prisma;
    await p.customer.create({ data: { externalId: c } });
    const id = (await p.customer.findUniqueOrThrow({ where: { externalId: c } })).id;
    const t = (d: string) => new Date(`2024-04-${d}Z`);
    await p.transaction.createMany({ data: [
      { externalId: `${c}-t1`, customerId: id, occurredAt: t('01T10:00:00'), amount: '10' },
      { externalId: `${c}-t2`, customerId: id, occurredAt: t('03T10:00:00'), amount: '20' },
    ] });
    await p.comment.create({ data: { externalId: `${c}-c1`, customerId: id, createdAt: t('03T10:00:00'), text: 'nice', textHash: 'x'.repeat(64) } });
    await ingestEventBatch(p, [
      { externalId: `${c}-e1`, customerExternalId: c, occurredAt: '2024-04-03T10:00:00Z', type: 'search', text: 'hats' },
      { externalId: `${c}-e2`, customerExternalId: c, occurredAt: '2024-04-03T10:00:00Z', type: 'like' },
      { externalId: `${c}-e3`, customerExternalId: c, occurredAt: '2024-04-02T09:00:00Z', type: 'product_view' },
      { externalId: `${c}-e4`, customerExternalId: c, occurredAt: '2024-04-05T09:00:00Z', type: 'share' },
    ]);
    const seen: string[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const r: { body: { data?: any; errors?: unknown[] } } = await gql(server.url, server.keys.reader, TIMELINE, { ext: c, first: 2, after });
      expect(r.body.errors).toBeUndefined();
      const conn: { edges: { node: { kind: string; node: { externalId: string } } }[]; pageInfo: { hasNextPage: boolean; endCursor: string } } = r.body.data.customer.timeline;
      seen.push(...conn.edges.map((e) => `${e.node.kind}:${e.node.node.externalId}`));
      pages++;
      if (!conn.pageInfo.hasNextPage) break;
      after = conn.pageInfo.endCursor;
    }
    // Same instant: transaction, then comment, then events by id, highest first.
    const sameInstant = (await p.event.findMany({ where: { externalId: { in: [`${c}-e1`, `${c}-e2`] } }, orderBy: { id: 'desc' } })).map((e) => `event:${e.externalId}`);
    expect(seen).toEqual([`event:${c}-e4`, `transaction:${c}-t2`, `comment:${c}-c1`, ...sameInstant, `event:${c}-e3`, `transaction:${c}-t1`]);
    expect(pages).toBe(4);
    const onlyEvents = await gql(server.url, server.keys.reader, TIMELINE, { ext: c, first: 10, kinds: ['event'] });
    const nodes = onlyEvents.body.data.customer.timeline.edges.map((e: { node: { node: { __typename: string; type: string } } }) => e.node.node);
    expect(nodes.map((n: { __typename: string }) => n.__typename)).toEqual(['Event', 'Event', 'Event', 'Event']);
    expect(nodes.find((n: { type: string }) => n.type === 'search')).toMatchObject({ text: 'hats' });
    // Several customers in one request are batched (same page arguments share one query); each keeps its own rows.
    const d = uid('tl');
    await ingestEventBatch(p, [{ externalId: `${d}-e1`, customerExternalId: d, occurredAt: '2024-04-04T00:00:00Z', type: 'follow' }], [{ externalId: d }]);
    const both = await gql(server.url, server.keys.reader, `query($a: String!, $b: String!) {
      a: customer(externalId: $a) { timeline(first: 3) { edges { node { node { ... on Event { externalId } ... on Transaction { externalId } ... on Comment { externalId } } } } pageInfo { hasNextPage } } }
      b: customer(externalId: $b) { timeline(first: 3) { edges { node { node { ... on Event { externalId } } } } pageInfo { hasNextPage } } }
      c: customer(externalId: $a) { timeline(first: 1, kinds: [transaction]) { edges { node { node { ... on Transaction { externalId } } } } } } }`, { a: c, b: d });
    expect(both.body.errors).toBeUndefined();
    const ids = (conn: { edges: { node: { node: { externalId: string } } }[] }) => conn.edges.map((e) => e.node.node.externalId);
    expect(ids(both.body.data.a.timeline)).toEqual(seen.slice(0, 3).map((x) => x.split(':')[1]));
    expect(both.body.data.a.timeline.pageInfo.hasNextPage).toBe(true);
    expect(ids(both.body.data.b.timeline)).toEqual([`${d}-e1`]);
    expect(both.body.data.b.timeline.pageInfo.hasNextPage).toBe(false);
    expect(ids(both.body.data.c.timeline)).toEqual([`${c}-t2`]);
    const bad = await gql(server.url, server.keys.reader, TIMELINE, { ext: c, first: 2, after: 'bm90LWEtY3Vyc29y' });
    expect(firstError(bad).extensions.code).toBe('BAD_USER_INPUT');
  });

  it('computes event features point-in-time: events after the cutoff change nothing', async () => {
    const c = uid('pf');
    const p = app.db.prisma;
    await ingestEventBatch(p, [
      { externalId: `${c}-1`, customerExternalId: c, occurredAt: '2024-05-30T10:00:00Z', type: 'search', text: 'boots' },
      { externalId: `${c}-2`, customerExternalId: c, occurredAt: '2024-05-31T10:00:00Z', type: 'product_view', category: 'boots' },
    ], [{ externalId: c }]);
    const id = (await p.customer.findUniqueOrThrow({ where: { externalId: c } })).id;
    const asOf = new Date('2024-06-01T00:00:00Z');
    const before = (await loadEventFeatures(p, { customerIds: [id], asOf })).get(id)!;
    expect(before).toMatchObject({ evt_search_7d: 1, evt_product_view_7d: 1, evt_distinct_categories_viewed_90d: 1, evt_sessions_90d: 2 });
    expect(before.evt_days_since_last).toBeCloseTo(14 / 24, 10);
    await ingestEventBatch(p, [
      { externalId: `${c}-3`, customerExternalId: c, occurredAt: '2024-06-01T00:00:00Z', type: 'product_view', category: 'hats' },
      { externalId: `${c}-4`, customerExternalId: c, occurredAt: '2024-06-02T10:00:00Z', type: 'search' },
    ]);
    expect((await loadEventFeatures(p, { customerIds: [id], asOf })).get(id)).toEqual(before);
    // The stored snapshot carries the event group beside behaviour-v1.
    await materializeFeatures(p, { asOf, current: false, customerIds: [id] });
    const snap = await p.featureSnapshot.findFirstOrThrow({ where: { customerId: id, asOf } });
    expect(snap.values).toMatchObject({ orders: 0, evt_search_7d: 1, evt_product_view_7d: 1 });
  });

  it('imports an NDJSON events file with rejects and re-imports as a no-op', async () => {
    const c = uid('imp');
    const file = path.join(dir, `${c}.ndjson`);
    const lines = [
      { event_id: `${c}-1`, customer_id: c, occurred_at: '2024-01-01T00:00:00Z', type: 'search', text: 'lamp', session: 's1' },
      { event_id: `${c}-2`, customer_id: c, occurred_at: '2024-01-01T00:01:00Z', type: 'add_to_cart', product_id: 'p1', properties: { qty: 2 } },
      { event_id: `${c}-3`, customer_id: c, occurred_at: '2024-01-01T00:02:00Z', type: 'teleport' },
    ];
    fs.writeFileSync(file, `${lines.map((l) => JSON.stringify(l)).join('\n')}\n`);
    // As the CLI calls it: through COPY on PostgreSQL, through Prisma on PGlite.
    const databaseUrl = app.env.DATABASE_URL;
    const s = await runImport(app.db.prisma, { entity: 'events', file, databaseUrl });
    expect(s).toMatchObject({ rowsValid: 2, inserted: 2, rejectedLines: 1, customersCreated: 1, searchesChanged: 1 });
    const rejects = fs.readFileSync(`${file}.rejects.ndjson`, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(rejects).toEqual([expect.objectContaining({ line: 3, issues: [expect.objectContaining({ field: 'type' })] })]);
    const stored = await app.db.prisma.event.findUniqueOrThrow({ where: { externalId: `${c}-1` } });
    expect(stored.properties).toEqual({ session: 's1' });
    expect((await app.db.prisma.event.findUniqueOrThrow({ where: { externalId: `${c}-2` } })).properties).toEqual({ qty: 2 });
    expect(await runImport(app.db.prisma, { entity: 'events', file, databaseUrl })).toMatchObject({ inserted: 0, updated: 0, unchanged: 2 });
    expect(await runImport(app.db.prisma, { entity: 'events', file })).toMatchObject({ inserted: 0, updated: 0, unchanged: 2 });
  });

  describe(`the import's events writer (${backend === 'postgres' ? 'COPY + merge' : 'Prisma statement'})`, () => {
    let copy: EventsCopyWriter | null = null;
    beforeAll(async () => {
      if (backend === 'postgres') copy = await EventsCopyWriter.open(app.env.DATABASE_URL!);
    });
    afterAll(async () => copy?.close());
    /** One batch the way the import writes it on this backend. */
    const write = (rows: EventRow[]): Promise<EventsCopyResult> =>
      copy
        ? copy.write(rows)
        : app.db.prisma.$transaction(async (tx) => {
            const customersCreated = await ensureEventCustomers(tx, rows);
            return { ...(await upsertEvents(tx, rows)), customersCreated };
          });
    const row = (c: string, n: number, over: Partial<EventRow> = {}): EventRow => ({
      externalId: `${c}-w${n}`,
      customerExternalId: c,
      occurredAt: new Date(Date.UTC(2024, 2, n, 10)),
      type: 'page_view',
      text: null,
      ...over,
    });
    const stored = (c: string) =>
      app.db.prisma.event.findMany({ where: { externalId: { startsWith: `${c}-w` } }, orderBy: { externalId: 'asc' }, include: { customer: { select: { externalId: true } } } });

    it('creates unknown customers stale, returns new search ids, re-imports as a no-op and updates changed rows', async () => {
      const a = uid('wa');
      const b = uid('wb');
      const p = app.db.prisma;
      await p.customer.create({ data: { externalId: b } });
      // Text that needs escaping in COPY's text format, and properties with the same.
      const odd = 'tab\there\\ back\\slash \\N "quoted"\nline\r ünïcode';
      const rows = [
        row(a, 1, { category: 'shoes', productId: 'p\t1', properties: { path: '/a\tb', n: 1 } }),
        row(a, 2, { type: 'search', text: odd }),
        row(b, 3, { type: 'search', text: 'lamp' }),
        row(b, 4, { type: 'like', text: 'not a search', properties: null }),
      ];
      const first = await write(rows);
      expect(first).toMatchObject({ received: 4, inserted: 4, updated: 0, unchanged: 0, customersCreated: 1 });
      let events = await stored(a);
      expect(events.map((e) => [e.externalId, e.type, e.productId, e.category, e.text, e.properties])).toEqual([
        [`${a}-w1`, 'page_view', 'p\t1', 'shoes', null, { path: '/a\tb', n: 1 }],
        [`${a}-w2`, 'search', null, null, odd, {}],
      ]);
      expect(events[1]!.textHash).toBe(textHash(odd));
      const searchIds = (await p.event.findMany({ where: { externalId: { in: [`${a}-w2`, `${b}-w3`] } } })).map((e) => e.id);
      expect([...first.changedSearchIds].sort()).toEqual(searchIds.sort());
      const customers = await p.customer.findMany({ where: { externalId: { in: [a, b] } }, orderBy: { externalId: 'asc' } });
      expect(customers.map((c) => c.featuresStaleAt)).toEqual([expect.any(Date), expect.any(Date)]);
      expect(await p.jobRun.count({ where: { name: 'features.refresh', dedupeKey: REFRESH_DEDUPE_KEY, finishedAt: null } })).toBe(1);

      expect(await write(rows)).toMatchObject({ received: 4, inserted: 0, updated: 0, unchanged: 4, customersCreated: 0, changedSearchIds: [] });
      expect(await p.event.count({ where: { externalId: { in: rows.map((r) => r.externalId) } } })).toBe(4);

      // A changed search text (re-embed), a move to another customer, a changed property; one unchanged row.
      const changed = [
        rows[0]!,
        { ...rows[1]!, text: 'red lamp' },
        { ...rows[2]!, customerExternalId: a },
        { ...rows[3]!, properties: { x: 1 } },
      ];
      const again = await write(changed);
      expect(again).toMatchObject({ received: 4, inserted: 0, updated: 3, unchanged: 1, customersCreated: 0 });
      expect([...again.changedSearchIds].sort()).toEqual(searchIds.sort());
      events = await stored(a);
      expect(events.map((e) => [e.externalId, e.text, e.customer.externalId])).toEqual([
        [`${a}-w1`, null, a],
        [`${a}-w2`, 'red lamp', a],
      ]);
      expect((await p.event.findUniqueOrThrow({ where: { externalId: `${b}-w3` }, include: { customer: true } })).customer.externalId).toBe(a);
      expect((await p.event.findUniqueOrThrow({ where: { externalId: `${b}-w4` } })).properties).toEqual({ x: 1 });
      expect(await p.jobRun.count({ where: { name: 'features.refresh', dedupeKey: REFRESH_DEDUPE_KEY, finishedAt: null } })).toBe(1);
    });

    it('writes nothing of a batch that fails, and the next batch goes through', async () => {
      const c = uid('wr');
      const p = app.db.prisma;
      // The same id twice in one batch: the merge refuses it (the runner rejects such lines before they get here).
      const bad = [row(c, 1), row(`${c}-new`, 2), row(c, 1, { type: 'like' })];
      await expect(write(bad)).rejects.toThrow();
      expect(await p.event.count({ where: { externalId: { startsWith: `${c}-` } } })).toBe(0);
      expect(await p.customer.count({ where: { externalId: { startsWith: c } } })).toBe(0);
      // A value the database refuses after the customers were created in the same transaction.
      const outOfRange = [row(c, 1), row(`${c}-new`, 2, { occurredAt: new Date(8.64e15) })];
      await expect(write(outOfRange)).rejects.toThrow();
      expect(await p.event.count({ where: { externalId: { startsWith: `${c}-` } } })).toBe(0);
      expect(await p.customer.count({ where: { externalId: { startsWith: c } } })).toBe(0);
      expect(await write([row(c, 1), row(`${c}-new`, 2)])).toMatchObject({ inserted: 2, customersCreated: 2 });
    });

    if (backend === 'postgres') {
      it('sends the ids of customers it has written before, and fails loudly when such a customer was erased meanwhile', async () => {
        const c = uid('wc');
        const p = app.db.prisma;
        const writer = await EventsCopyWriter.open(app.env.DATABASE_URL!);
        try {
          expect(await writer.write([row(c, 1)])).toMatchObject({ inserted: 1, customersCreated: 1 });
          const id = (await p.customer.findUniqueOrThrow({ where: { externalId: c } })).id;
          expect(writer.encode([row(c, 2)]).text).toContain(`\t${id}\t`);
          expect(await writer.write([row(c, 2)])).toMatchObject({ inserted: 1, customersCreated: 0 });
          await p.customer.delete({ where: { externalId: c } });
          await expect(writer.write([row(c, 3)])).rejects.toThrow(/foreign key/);
          expect(await p.event.count({ where: { externalId: { startsWith: `${c}-` } } })).toBe(0);
        } finally {
          await writer.close();
        }
      });

      it('splits each batch over connections by id: parts run at once on shared customers, counts add up, later batches win', async () => {
        const p = app.db.prisma;
        const cs = Array.from({ length: 6 }, (_, i) => uid(`pl${i}`));
        await p.customer.createMany({ data: cs.map((externalId) => ({ externalId })) });
        const many = (tag: string, category: string) =>
          Array.from({ length: 300 }, (_, i) => ({ ...row(cs[i % cs.length]!, i + 1), externalId: `${tag}-${i}`, category }));
        const pools = await Promise.all([EventsCopyPool.open(app.env.DATABASE_URL!, 2), EventsCopyPool.open(app.env.DATABASE_URL!, 2)]);
        try {
          const parts = pools[0]!.encode(many(cs[0]!, 'a'));
          expect(parts).toHaveLength(2);
          expect(parts[0]!.count + parts[1]!.count).toBe(300);
          expect(Math.min(parts[0]!.count, parts[1]!.count)).toBeGreaterThan(100);
          // Two imports at once, four transactions marking the same fresh customers stale: they must queue, not deadlock.
          const [x, y] = await Promise.all([pools[0]!.write(parts), pools[1]!.write(pools[1]!.encode(many(cs[1]!, 'b')))]);
          expect(x).toMatchObject({ received: 300, inserted: 300, updated: 0, customersCreated: 0 });
          expect(y).toMatchObject({ received: 300, inserted: 300, updated: 0, customersCreated: 0 });
          const fresh = await p.customer.count({ where: { externalId: { in: cs }, featuresStaleAt: null } });
          expect(fresh).toBe(0);
          await p.customer.updateMany({ where: { externalId: { in: cs } }, data: { featuresStaleAt: null } });
          await Promise.all([pools[0]!.write(pools[0]!.encode(many(cs[0]!, 'c'))), pools[1]!.write(pools[1]!.encode(many(cs[1]!, 'd')))]);
          const later = await pools[0]!.write(pools[0]!.encode(many(cs[0]!, 'e')));
          expect(later).toMatchObject({ received: 300, inserted: 0, updated: 300, unchanged: 0 });
          const byCategory = await p.event.groupBy({ by: ['category'], where: { externalId: { startsWith: `${cs[0]}-` } }, _count: true });
          expect(byCategory.map((g) => [g.category, g._count])).toEqual([['e', 300]]);
          expect(await p.customer.count({ where: { externalId: { in: cs }, featuresStaleAt: null } })).toBe(0);
        } finally {
          await Promise.all(pools.map((pool) => pool.close()));
        }
      });
    }
  });

  it('embeds search texts once per distinct text into their own profile, apart from comment profiles', async () => {
    const c = uid('se');
    const p = app.db.prisma;
    await ingestEventBatch(p, [
      { externalId: `${c}-1`, customerExternalId: c, occurredAt: '2024-01-01T00:00:00Z', type: 'search', text: 'discount coupon' },
      { externalId: `${c}-2`, customerExternalId: c, occurredAt: '2024-01-02T00:00:00Z', type: 'search', text: 'discount coupon' },
      { externalId: `${c}-3`, customerExternalId: c, occurredAt: '2024-01-03T00:00:00Z', type: 'search', text: 'sale price' },
      { externalId: `${c}-4`, customerExternalId: c, occurredAt: '2024-01-03T00:00:00Z', type: 'like', text: 'not a search' },
    ], [{ externalId: c }]);
    const ids = (await p.event.findMany({ where: { customer: { externalId: c } }, select: { id: true } })).map((e) => e.id);
    const provider = new KeywordProvider(`kw-${c}`);
    const r = await embedPendingSearches(p, provider, { eventIds: ids });
    expect(r).toMatchObject({ embedded: 3, distinctTexts: 2 });
    expect(provider.texts).toBe(2);
    expect((await embedPendingSearches(p, provider, { eventIds: ids })).embedded).toBe(0);
    const prof = await refreshSearchProfiles(p, { model: provider.model, dim: provider.dim, halfLifeDays: 30, customerIds: r.customerIds });
    expect(prof.written).toBe(1);
    const [row] = await p.$queryRaw<{ search_count: number }[]>`
      select search_count from customer_search_profile_embeddings where customer_id = ${r.customerIds[0]}::int and model = ${provider.model}`;
    expect(row!.search_count).toBe(3);
    const [other] = await p.$queryRaw<{ n: bigint }[]>`
      select count(*) as n from customer_profile_embeddings where customer_id = ${r.customerIds[0]}::int`;
    expect(Number(other!.n)).toBe(0);
    expect((await refreshSearchProfiles(p, { model: provider.model, dim: provider.dim, halfLifeDays: 30, customerIds: r.customerIds })).written).toBe(0);
    // Point-in-time search-interest features: only searches before asOf count.
    const cid = r.customerIds[0]!;
    const at = (iso: string) => searchInterestFeatures(p, { customerIds: [cid], asOf: new Date(iso), provider, concepts: DEFAULT_CONCEPTS, halfLifeDays: 30 });
    const early = (await at('2024-01-02T12:00:00Z')).get(cid)!;
    expect(early.srch_embedded_count).toBe(2);
    expect(early.srch_concept_price_sensitive).toBeGreaterThan(early.srch_concept_satisfied! + 0.3);
    expect((await at('2024-01-01T00:00:00Z')).get(cid)).toMatchObject({ srch_embedded_count: 0, srch_concept_price_sensitive: 0 });
    expect((await at('2024-02-01T00:00:00Z')).get(cid)!.srch_embedded_count).toBe(3);
  });

  it('erasure removes the events, their embeddings and the search profile', async () => {
    const c = uid('er');
    const p = app.db.prisma;
    await ingestEventBatch(p, [{ externalId: `${c}-1`, customerExternalId: c, occurredAt: '2024-01-01T00:00:00Z', type: 'search', text: 'x' }], [{ externalId: c }]);
    const e = await p.event.findUniqueOrThrow({ where: { externalId: `${c}-1` } });
    const vec = `[${Array.from({ length: 4 }, () => 0.5).join(',')}]`;
    await p.$executeRaw`insert into event_embeddings (event_id, model, dim, text_hash, embedding) values (${e.id}, 'm', 4, ${e.textHash}, ${vec}::vector)`;
    await p.$executeRaw`insert into customer_search_profile_embeddings (customer_id, model, dim, embedding, search_count, half_life_days)
      values (${e.customerId}, 'm', 4, ${vec}::vector, 1, 90)`;
    const r = await gql(server.url, server.keys.admin, `mutation($x: String!) { deleteCustomer(externalId: $x) { deleted rows } }`, { x: c });
    expect(r.body.data.deleteCustomer).toMatchObject({ deleted: true, rows: expect.objectContaining({ events: 1, event_embeddings: 1, customer_search_profile_embeddings: 1 }) });
    const [left] = await p.$queryRaw<{ n: bigint }[]>`select count(*) as n from event_embeddings where event_id = ${e.id}`;
    expect(Number(left!.n)).toBe(0);
    expect(await p.event.count({ where: { externalId: `${c}-1` } })).toBe(0);
  });
});
