/**
 * Prints the SQL of a new BI features view version for a hand-written migration (see src/bi/features-view.sql.ts):
 *   npx tsx scripts/bi-features-view.ts v2 > prisma/migrations/00NN_bi_features_v2/migration.sql
 */
import { featuresAliasSql, featuresViewSql } from '../src/bi/features-view.sql';

const version = process.argv[2];
if (!version) {
  console.error('usage: npx tsx scripts/bi-features-view.ts v<N>');
  process.exit(2);
}
const first = version === 'v1';
console.log(`-- BI features view ${version}: one column per feature of the current feature set.\n`);
console.log(featuresViewSql(version));
console.log(`\n${featuresAliasSql(version, !first)}`);
console.log(
  `\n-- Default privileges (0006_bi_views) grant SELECT on new views in schema bi to valuegraph_bi when the` +
    `\n-- migrating role created them; say it again for databases where the default was not set.\n` +
    `DO $$ BEGIN IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'valuegraph_bi') THEN\n` +
    `  GRANT SELECT ON bi.customer_features_${version}, bi.customer_features TO valuegraph_bi;\nEND IF; END $$;`,
);
