#!/usr/bin/env bash
# Everything the tests need, then every suite: type check, unit tests, and the integration suite twice —
# on embedded PGlite (in-process jobs) and on PostgreSQL + Redis (BullMQ worker processes).
set -euo pipefail
cd "$(dirname "$0")/.."
out=test/.tmp
mkdir -p "$out"

echo "== services (PostgreSQL + pgvector, Redis)" >&2
eval "$(bash scripts/services.sh)"
export VG_TEST_PG_ADMIN_URL="${VG_TEST_PG_ADMIN_URL:-${DATABASE_URL%/*}/postgres}"
export VG_TEST_REDIS_URL="${VG_TEST_REDIS_URL:-$REDIS_URL}"
# The suites create their own databases and env; nothing from the shell may leak into them.
unset DATABASE_URL REDIS_URL

echo "== type check" >&2
npx tsc -p tsconfig.json --noEmit

status=0
run() { # name, jest args...
  local name=$1; shift
  echo "== $name" >&2
  node --experimental-vm-modules --no-warnings=ExperimentalWarning node_modules/jest/bin/jest.js "$@" --json --outputFile="$out/$name.json" || status=1
}
echo "== generated GraphQL types up to date" >&2; npm run -s codegen:check || status=1
run unit --selectProjects unit
VG_TEST_BACKEND=pglite run integration-pglite --selectProjects integration --maxWorkers=1
VG_TEST_BACKEND=postgres run integration-postgres --selectProjects integration --maxWorkers=1

node -e '
  const fs = require("fs");
  let passed = 0, failed = 0, skipped = 0;
  for (const name of ["unit", "integration-pglite", "integration-postgres"]) {
    const f = `test/.tmp/${name}.json`;
    if (!fs.existsSync(f)) { console.log(`${name}: no results`); failed++; continue; }
    const r = JSON.parse(fs.readFileSync(f, "utf8"));
    const s = r.numPendingTests + r.numTodoTests;
    console.log(`${name}: ${r.numPassedTests} passed, ${r.numFailedTests} failed, ${s} skipped (${r.numTotalTestSuites} files)`);
    passed += r.numPassedTests; failed += r.numFailedTests; skipped += s;
  }
  console.log(`${passed} passed, ${failed} failed, ${skipped} skipped`);
  if (skipped) { console.log("skipped tests are not allowed"); process.exit(1); }
' || status=1
exit $status
