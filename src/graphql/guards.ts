import type { ApolloServerPlugin } from '@apollo/server';
import {
  type DocumentNode,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLSchema,
  Kind,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { type ComplexityEstimator, getComplexity, simpleEstimator } from 'graphql-query-complexity';

export const MAX_DEPTH = 10;
/** A customers page of 500 with a few fields each fits; 500 customers × 50 transactions each does not. */
export const MAX_COMPLEXITY = 20_000;
export const MAX_BODY = '8mb';

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
