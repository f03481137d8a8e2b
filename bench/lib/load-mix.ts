import crypto from 'node:crypto';
import autocannon from 'autocannon';
import type { PrismaClient } from '../../src/generated/prisma/client';

/**
 * The mixed dashboard + ingest load shared by bench/load.bench.ts (60 s, numbers for BENCHMARKS.md) and the CI
 * smoke test test/integration/load-short.int.test.ts (10 s, asserts zero errors and no lost rows). One autocannon
 * instance per endpoint, so each gets its own counts and percentiles; bodies are checked too (a GraphQL error
 * travels with status 200).
 */

export const LOAD_PREFIX = 'load';

export interface MixKeys {
  reader: string;
  writer: string;
}

export interface EndpointStats {
  name: string;
  connections: number;
  requests: number;
  non2xx: number;
  errors: number;
  /** 200 responses whose body carried GraphQL errors. */
  graphqlErrors: number;
  p50: number;
  p99: number;
  rps: number;
}

export interface MixResult {
  endpoints: EndpointStats[];
  /** Transactions the ingest endpoint reported inserted (each request sends new rows only). */
  ingestedRows: number;
  ingestRun: string;
}

const CUSTOMER = 'query($x: String) { customer(externalId: $x) { externalId stats { orderCount totalSpend } score { clv tier churnRisk } } }';
const PAGE = `query($r: [String!], $min: Decimal) { customers(filter: { region: $r, predictedClv: { min: $min } }, orderBy: { field: PREDICTED_CLV }, first: 25) {
  nodes { externalId region score { clv tier } } pageInfo { hasNextPage endCursor } } }`;
const MODELS = '{ models(first: 10) { id kind status horizonDays metrics isChampion } }';
const INGEST = `mutation($c: [CustomerInput!], $r: [TransactionInput!]!) { ingestTransactions(rows: $r, customers: $c) { received inserted } }`;
export const ROWS_PER_INGEST = 5;

/** Customers with transactions and champion scores for the reads to find (idempotent; ids LOAD_PREFIX-1..n). */
export async function seedLoadData(prisma: PrismaClient, customers: number): Promise<void> {
  await prisma.$executeRaw`insert into customers (external_id, region)
    select ${LOAD_PREFIX} || '-' || g, (array['EU','US','APAC'])[1 + g % 3] from generate_series(1, ${customers}::int) g
    on conflict (external_id) do nothing`;
  await prisma.$executeRaw`insert into transactions (external_id, customer_id, occurred_at, amount, currency, quantity, kind)
    select c.external_id || '-t' || k, c.id, timestamptz '2024-01-01' + (k * 37 || ' days')::interval, (10 + k * 3)::numeric, 'USD', 1, 'purchase'
    from customers c cross join generate_series(1, 3) k where c.external_id like ${`${LOAD_PREFIX}-%`}
    on conflict (external_id) do nothing`;
  let [champ] = await prisma.$queryRaw<{ id: number }[]>`select model_version_id as id from model_champions where kind = 'clv-forest'`;
  if (!champ) {
    const mv = await prisma.modelVersion.create({ data: { kind: 'clv-forest', status: 'ready', horizonDays: 365, cutoff: new Date('2024-06-01T00:00:00Z') } });
    await prisma.modelChampion.create({ data: { kind: 'clv-forest', modelVersionId: mv.id } });
    champ = { id: mv.id };
  }
  await prisma.$executeRaw`insert into scores (customer_id, model_version_id, clv, churn_risk, tier)
    select c.id, ${champ.id}::int, round((c.id % 997)::numeric * 1.37, 4), (c.id % 100) / 100.0, (array['high','medium','low'])[1 + c.id % 3]
    from customers c where c.external_id like ${`${LOAD_PREFIX}-%`}
    on conflict (customer_id, model_version_id) do nothing`;
}

export async function runMixedLoad(o: { url: string; keys: MixKeys; seconds: number; connections: number; customers: number }): Promise<MixResult> {
  const run = `${LOAD_PREFIX}i-${crypto.randomBytes(4).toString('hex')}`;
  let seq = 0;
  let ingestedRows = 0;
  const rnd = (n: number) => 1 + Math.floor(Math.random() * n);
  const share = (f: number) => Math.max(1, Math.round(o.connections * f));
  const plan: { name: string; key: string; connections: number; body: () => string; check?: (body: any) => void }[] = [
    { name: 'customer by externalId with score', key: o.keys.reader, connections: share(0.4), body: () => JSON.stringify({ query: CUSTOMER, variables: { x: `${LOAD_PREFIX}-${rnd(o.customers)}` } }) },
    {
      name: 'customers page (region + CLV filter)',
      key: o.keys.reader,
      connections: share(0.2),
      body: () => JSON.stringify({ query: PAGE, variables: { r: [['EU', 'US', 'APAC'][rnd(3) - 1]], min: String(rnd(900)) } }),
    },
    { name: 'models', key: o.keys.reader, connections: share(0.1), body: () => JSON.stringify({ query: MODELS }) },
    {
      name: 'ingestTransactions (new rows)',
      key: o.keys.writer,
      connections: share(0.3),
      body: () => {
        const c = `${run}-${++seq}`;
        const rows = Array.from({ length: ROWS_PER_INGEST }, (_, i) => ({
          externalId: `${c}-t${i}`,
          customerExternalId: c,
          occurredAt: new Date(Date.UTC(2024, 0, 1) + i * 86_400_000).toISOString(),
          amount: (i * 1.25 + 3).toFixed(2),
        }));
        return JSON.stringify({ query: INGEST, variables: { c: [{ externalId: c, region: 'EU' }], r: rows } });
      },
      check: (b) => {
        ingestedRows += b?.data?.ingestTransactions?.inserted ?? 0;
      },
    },
  ];
  const endpoints = await Promise.all(
    plan.map(async (p) => {
      let graphqlErrors = 0;
      const r = await autocannon({
        url: o.url,
        method: 'POST',
        connections: p.connections,
        duration: o.seconds,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${p.key}` },
        requests: [
          {
            setupRequest: (req) => ({ ...req, body: p.body() }),
            onResponse: (status, body) => {
              if (status !== 200) return;
              const parsed = JSON.parse(body);
              if (parsed.errors) graphqlErrors++;
              p.check?.(parsed);
            },
          },
        ],
      });
      return {
        name: p.name,
        connections: p.connections,
        requests: r.requests.total,
        non2xx: r.non2xx,
        errors: r.errors + r.timeouts,
        graphqlErrors,
        p50: r.latency.p50,
        p99: r.latency.p99,
        rps: r.requests.average,
      } satisfies EndpointStats;
    }),
  );
  return { endpoints, ingestedRows, ingestRun: run };
}

export function formatTable(result: MixResult): string {
  const head = '| endpoint | connections | requests | req/s | non-2xx | errors | p50 ms | p99 ms |\n|---|---|---|---|---|---|---|---|';
  const rows = result.endpoints.map((e) => `| ${e.name} | ${e.connections} | ${e.requests} | ${e.rps.toFixed(0)} | ${e.non2xx} | ${e.errors + e.graphqlErrors} | ${e.p50} | ${e.p99} |`);
  return [head, ...rows].join('\n');
}
