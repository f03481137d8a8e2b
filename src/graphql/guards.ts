import type { ApolloServerPlugin } from '@apollo/server';
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
  visit,
} from 'graphql';
import { type ComplexityEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';
import { badTextReason, findBadText } from '../lib/text';

export const MAX_DEPTH = 10;
/** A customers page of 500 with a few fields each fits; 500 customers × 50 transactions each does not. */
export const MAX_COMPLEXITY = 20_000;
export const MAX_BODY = '8mb';
/**
 * Parser token limit: validation cost grows with the document (conflicting same-name fields cost seconds of CPU
 * per request well under MAX_BODY). A dashboard query is a few hundred tokens; send ingest rows as variables.
 */
export const MAX_TOKENS = 10_000;
/** Aliases let one request repeat a root field thousands of times (each a database query): a dashboard needs few. */
export const MAX_ALIASES = 100;

/** Depth of the deepest selection, following fragments; introspection (__schema, __type) is not counted. */
export function queryDepth(op: OperationDefinitionNode, fragments: Map<string, FragmentDefinitionNode>): number {
  const walk = (set: SelectionSetNode | undefined, seen: Set<string>): number => {
    if (!set) return 0;
    let max = 0;
    for (const sel of set.selections) {
      if (sel.kind === Kind.FIELD) {
        if (sel.name.value.startsWith('__')) continue;
        max = Math.max(max, sel.selectionSet ? 1 + walk(sel.selectionSet, seen) : 1);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) {
        max = Math.max(max, walk(sel.selectionSet, seen));
      } else {
        const name = sel.name.value;
        const frag = fragments.get(name);
        if (frag && !seen.has(name)) max = Math.max(max, walk(frag.selectionSet, new Set([...seen, name])));
      }
    }
    return max;
  };
  return walk(op.selectionSet, new Set());
}

/** Aliased fields in the operation as executed (fragments counted once per spread); stops counting past `cap`. */
export function aliasCount(op: OperationDefinitionNode, fragments: Map<string, FragmentDefinitionNode>, cap = MAX_ALIASES + 1): number {
  let n = 0;
  const walk = (set: SelectionSetNode | undefined, seen: Set<string>): void => {
    for (const sel of set?.selections ?? []) {
      if (n >= cap) return;
      if (sel.kind === Kind.FIELD) {
        if (sel.alias) n++;
        walk(sel.selectionSet, seen);
      } else if (sel.kind === Kind.INLINE_FRAGMENT) walk(sel.selectionSet, seen);
      else {
        const frag = fragments.get(sel.name.value);
        if (frag && !seen.has(sel.name.value)) walk(frag.selectionSet, new Set([...seen, sel.name.value]));
      }
    }
  };
  walk(op.selectionSet, new Set());
  return n;
}

function badLiteral(document: DocumentNode): string | null {
  let reason: string | null = null;
  visit(document, {
    StringValue(node) {
      reason ??= badTextReason(node.value);
    },
  });
  return reason;
}

/** A list field's cost is its page size times its children's: what the database and serializer will actually do. */
const pageEstimator: ComplexityEstimator = ({ args, childComplexity }) => {
  const first = typeof args.first === 'number' ? Math.max(1, Math.min(args.first, 500)) : null;
  return first === null ? undefined : 1 + first * Math.max(childComplexity, 1);
};

function reject(code: string, message: string, extra: Record<string, unknown>): GraphQLError {
  // extensions.http.status: without it Apollo answers a plugin's error with 500.
  return new GraphQLError(message, { extensions: { code, http: { status: 400 }, ...extra } });
}

/** Rejects over-deep and over-complex operations with 400 before any resolver runs. */
export function queryGuards(opts: { maxDepth?: number; maxComplexity?: number } = {}): ApolloServerPlugin {
  const maxDepth = opts.maxDepth ?? MAX_DEPTH;
  const maxComplexity = opts.maxComplexity ?? MAX_COMPLEXITY;
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ request, document, operation, schema }) {
          const fragments = new Map(
            (document as DocumentNode).definitions
              .filter((d): d is FragmentDefinitionNode => d.kind === Kind.FRAGMENT_DEFINITION)
              .map((d) => [d.name.value, d]),
          );
          // Text PostgreSQL cannot store is refused here for every argument at once (ingest rows, filters, ids).
          const bad = findBadText(request.variables ?? {});
          if (bad) throw reject('BAD_USER_INPUT', `${bad.path} ${bad.reason}`, { issues: [{ field: bad.path, message: bad.reason }] });
          const literal = badLiteral(document);
          if (literal) throw reject('BAD_USER_INPUT', `a string in the query ${literal}`, {});
          const aliases = operation ? aliasCount(operation, fragments) : 0;
          if (aliases > MAX_ALIASES) throw reject('QUERY_TOO_COMPLEX', `more than ${MAX_ALIASES} aliased fields; send fewer, or use list queries`, { maxAliases: MAX_ALIASES });
          const depth = operation ? queryDepth(operation, fragments) : 0;
          if (depth > maxDepth) throw reject('QUERY_TOO_DEEP', `query depth ${depth} exceeds the limit of ${maxDepth}`, { depth, maxDepth });
          const complexity = estimate(schema, document, request.operationName, request.variables);
          if (complexity !== null && complexity > maxComplexity) {
            throw reject('QUERY_TOO_COMPLEX', `query complexity ${complexity} exceeds the limit of ${maxComplexity}; ask for smaller pages or fewer fields`, {
              complexity,
              maxComplexity,
            });
          }
        },
      };
    },
  };
}

function estimate(schema: GraphQLSchema, query: DocumentNode, operationName: string | undefined | null, variables: Record<string, unknown> | undefined | null): number | null {
  try {
    return getComplexity({
      schema,
      query,
      operationName: operationName ?? undefined,
      variables: variables ?? {},
      estimators: [pageEstimator, simpleEstimator({ defaultComplexity: 1 })],
    });
  } catch {
    // Invalid variables: execution rejects them with BAD_USER_INPUT right after this.
    return null;
  }
}
