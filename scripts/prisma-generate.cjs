// `prisma generate` insists on locating a native schema engine even though Prisma 7's client needs none,
// and downloading one fails on machines that only reach the npm registry. Pointing the variable at any
// existing file satisfies the lookup; generation itself is pure JS/WASM.
const { spawnSync } = require('node:child_process');
const path = require('node:path');
const env = { ...process.env };
env.PRISMA_SCHEMA_ENGINE_BINARY ??= path.join(__dirname, 'prisma-generate.cjs');
env.PRISMA_HIDE_UPDATE_MESSAGE = '1';
env.CHECKPOINT_DISABLE = '1';
const bin = require.resolve('prisma/build/index.js');
const r = spawnSync(process.execPath, [bin, 'generate'], { stdio: 'inherit', env, cwd: path.join(__dirname, '..') });
process.exit(r.status ?? 1);
