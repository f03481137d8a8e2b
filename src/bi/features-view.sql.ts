/**
 * SQL of the versioned BI features view: one double precision column per feature of the current feature set,
 * read out of feature_snapshots.values (JSON). Views are migrations, so a change of FEATURE_SET or
 * FEATURE_NAMES needs a new `bi.customer_features_v<N+1>` plus the alias `bi.customer_features` re-pointed to
 * it; `npx tsx scripts/bi-features-view.ts v<N+1>` prints both, and test/unit/bi-views.test.ts fails until
 * the newest migrated version matches the code.
 */
import { FEATURE_NAMES, FEATURE_SET } from '../features/features.definitions';

/** Feature names become SQL identifiers and JSON keys verbatim, so only plain snake_case is accepted. */
const IDENT = /^[a-z][a-z0-9_]{0,62}$/;

export function featuresViewSql(version: string, featureSet: string = FEATURE_SET, names: readonly string[] = FEATURE_NAMES): string {
  if (!/^v\d+$/.test(version)) throw new Error(`version must look like v1, got ${version}`);
  if (!/^[\w.-]+$/.test(featureSet)) throw new Error(`unexpected feature set name ${featureSet}`);
  for (const n of names) if (!IDENT.test(n)) throw new Error(`feature name ${n} is not a plain SQL identifier`);
  const cols = names.map((n) => `    (f."values" ->> '${n}')::double precision AS ${n}`).join(',\n');
  return [
    `CREATE VIEW bi.customer_features_${version} AS`,
    `SELECT f.customer_id, c.external_id, f.feature_set, f.as_of, f.computed_at,`,
    cols,
    `FROM public.feature_snapshots f`,
    `JOIN public.customers c ON c.id = f.customer_id`,
    `WHERE f.feature_set = '${featureSet}' AND f.is_current;`,
  ].join('\n');
}

/** The stable alias BI tools point at; re-pointed (drop + create, columns may change) with each new version. */
export function featuresAliasSql(version: string, replace: boolean): string {
  return [
    ...(replace ? ['DROP VIEW bi.customer_features;'] : []),
    `CREATE VIEW bi.customer_features AS SELECT * FROM bi.customer_features_${version};`,
  ].join('\n');
}
