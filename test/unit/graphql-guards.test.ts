import { type FragmentDefinitionNode, Kind, type OperationDefinitionNode, buildSchema, parse } from 'graphql';
import { getComplexity, simpleEstimator } from 'graphql-query-complexity';
import { decodeCursor, encodeCursor, pageSize, toPage } from '../../src/customers/cursor';
import { DomainError } from '../../src/lib/errors';
import { queryDepth } from '../../src/graphql/guards';
import { loadTypeDefs } from '../../src/graphql/server';

function depthOf(query: string): number {
  const doc = parse(query);
  const op = doc.definitions.find((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION)!;
  const frags = new Map(
    doc.definitions.filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION).map((d) => [d.name.value, d]),
  );
  return queryDepth(op, frags);
}

describe('query depth', () => {
  it('counts nested selections, follows fragments and inline fragments, ignores introspection', () => {
    expect(depthOf('{ health { ok } }')).toBe(2);
    expect(depthOf('{ customer(id: "1") { stats { orderCount } transactions { nodes { customer { id } } } } }')).toBe(5);
    expect(depthOf('fragment F on Customer { transactions { nodes { id } } } { customer(id: "1") { ...F } }')).toBe(4);
    expect(depthOf('{ customer(id: "1") { ... on Customer { region } } }')).toBe(2);
    expect(depthOf('{ __schema { types { fields { type { ofType { name } } } } } }')).toBe(0);
  });

  it('terminates on fragment cycles (validation reports them separately)', () => {
    expect(depthOf('fragment A on Customer { ...B } fragment B on Customer { ...A id } { customer(id: "1") { ...A } }')).toBe(2);
  });
});

describe('cursors and page sizes', () => {
  it('round-trips and refuses a cursor of another ordering or garbage with BAD_USER_INPUT', () => {
    const c = encodeCursor({ o: 'ID:DESC', v: '12.5', id: '42' });
    expect(decodeCursor(c, 'ID:DESC')).toEqual({ o: 'ID:DESC', v: '12.5', id: '42' });
    for (const bad of [() => decodeCursor(c, 'RECENCY:ASC'), () => decodeCursor('garbage', 'ID:DESC'), () => decodeCursor(encodeCursor({ o: 'ID:DESC', v: '1', id: '1; drop' }), 'ID:DESC')]) {
      expect(bad).toThrow(DomainError);
    }
    expect(decodeCursor(null, 'ID:DESC')).toBeNull();
  });

  it('caps the page size at 500 and refuses negatives', () => {
    expect(pageSize(undefined)).toBe(50);
    expect(pageSize(10_000)).toBe(500);
    expect(() => pageSize(-1)).toThrow(DomainError);
  });

  it('uses the extra row only to say there is a next page', () => {
    const p = toPage([1, 2, 3], 2, String);
    expect(p.nodes).toEqual([1, 2]);
    expect(p.pageInfo).toEqual({ hasNextPage: true, endCursor: '2' });
    expect(toPage([], 2, String).pageInfo).toEqual({ hasNextPage: false, endCursor: null });
  });
});

describe('SDL', () => {
  it('builds into one schema with every documented domain type', () => {
    const schema = buildSchema(loadTypeDefs());
    for (const t of ['Customer', 'Transaction', 'Comment', 'Score', 'Segment', 'ModelVersion', 'JobRun', 'ApiKey']) {
      expect(schema.getType(t)?.description).toBeTruthy();
    }
    // Page sizes multiply: a 500-customer page with 500 transactions each is far costlier than a flat page.
    const cost = (q: string) =>
      getComplexity({
        schema,
        query: parse(q),
        estimators: [({ args, childComplexity }) => (typeof args.first === 'number' ? 1 + args.first * Math.max(childComplexity, 1) : undefined), simpleEstimator({ defaultComplexity: 1 })],
      });
    expect(cost('{ customers(first: 500) { nodes { transactions(first: 500) { nodes { id } } } } }')).toBeGreaterThan(
      100 * cost('{ customers(first: 500) { nodes { id } } }'),
    );
  });
});
