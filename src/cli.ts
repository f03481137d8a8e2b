import { Command, Option } from 'commander';
import { withApp } from './cli-app';
import { ROLES, createApiKey, listApiKeys, revokeApiKey } from './auth/api-keys';
import { runDemo } from './demo/demo';
import type { ApiKeyRole } from './generated/prisma/client';
import { DomainError } from './lib/errors';
import { waitForRun } from './jobs/wait';
import { registerEmbedCommand } from './embeddings/embed.command';
import { registerImportCommand } from './ingest/import/import.command';
import { registerEvaluateCommand, registerTrainCommand } from './models/evaluate.command';
import { registerBiCommands } from './bi/export.command';

const program = new Command('valuegraph').description('ValueGraph: customer lifetime value over GraphQL').showHelpAfterError();

program
  .command('migrate')
  .description('apply pending database migrations')
  .action(() =>
    withApp(async (app) => {
      const r = await app.db.migrate();
      console.log(`migrations: ${r.applied.length} applied, ${r.alreadyApplied} already applied (${app.db.backend})`);
    }, { migrate: false }),
  );

const keys = program.command('keys').description('manage API keys');
keys
  .command('create')
  .addOption(new Option('--role <role>', 'reader | writer | admin').choices(ROLES as string[]).makeOptionMandatory())
  .requiredOption('--name <name>', 'who or what uses the key')
  .description('create a key; it is printed once and only its hash is stored')
  .action((o: { role: ApiKeyRole; name: string }) =>
    withApp(async (app) => {
      const { key, record } = await createApiKey(app.db.prisma, o);
      console.error(`created key ${record.id} (${record.role}, "${record.name}"); store it now, it is not shown again:`);
      console.log(key);
    }),
  );
keys
  .command('list')
  .action(() =>
    withApp(async (app) => {
      for (const k of await listApiKeys(app.db.prisma)) {
        console.log(`${k.id}\t${k.role}\t${k.prefix}…\t${k.revokedAt ? 'revoked' : 'active'}\t${k.name}`);
      }
    }),
  );
keys
  .command('revoke <id>')
  .action((id: string) =>
    withApp(async (app) => {
      const k = await revokeApiKey(app.db.prisma, Number(id));
      console.log(`revoked key ${k.id} ("${k.name}")`);
    }),
  );

program
  .command('job <name>')
  .description('enqueue a job and wait for it (e.g. system.selftest)')
  .option('--payload <json>', 'job payload as JSON', '{}')
  .option('--no-wait', 'return after enqueueing')
  .action((name: string, o: { payload: string; wait: boolean }) =>
    withApp(
      async (app) => {
        const run = await app.queue.enqueue(name, JSON.parse(o.payload));
        console.error(`job run ${run.id} queued`);
        const done = o.wait ? await waitForRun(app.db.prisma, run.id, { timeoutMs: 3_600_000 }) : run;
        console.log(JSON.stringify({ id: done.id, state: done.state, result: done.result, error: done.error }));
        if (done.state === 'failed') process.exitCode = 1;
      },
      { runJobs: true },
    ),
  );

registerImportCommand(program);

program
  .command('demo')
  .description('generate a sample shop, ingest it, run the pipeline and serve the GraphQL API')
  .option('--customers <n>', 'how many customers to generate', '2000')
  .option('--no-serve', 'exit after the pipeline instead of serving the API')
  .action((o: { customers: string; serve: boolean }) => runDemo({ customers: Number(o.customers), serve: o.serve }));

registerEmbedCommand(program, withApp);
registerEvaluateCommand(program);
registerTrainCommand(program, withApp);
registerBiCommands(program);

program.parseAsync(process.argv).catch((err) => {
  if (err instanceof DomainError) {
    console.error(`error: ${err.message}`);
    for (const i of err.details?.issues ?? []) console.error(`  ${i.row !== undefined ? `row ${i.row} ` : ''}${i.field}: ${i.message}`);
  } else {
    console.error(`error: ${err instanceof Error ? err.message : String(err)}`);
  }
  process.exit(1);
});
