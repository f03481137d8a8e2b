// Prisma 7 reads no .env by itself and the CLI is only used here for `generate`; migrations are applied by
// our own runner (src/db/migrate.ts) because `prisma migrate` needs a native engine this machine cannot fetch.
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: { path: 'prisma/migrations' },
});
