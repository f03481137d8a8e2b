import fs from 'node:fs';
import { type Command, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import type { App } from '../../app';
import { withApp } from '../../cli-app';
import { badInput } from '../../lib/errors';
import { jobNames } from '../../jobs/registry';
import { enqueueSearchEmbeddings } from '../../events/events.enqueue';
import { type ImportSummary, runImport } from './import.runner';
import { ENTITIES, type Entity, FORMATS, type FormatName } from './import.types';

interface Opts {
  format: FormatName;
  mapping?: string;
  rejects?: string;
  batchSize: string;
  delimiter?: string;
  progress: boolean;
  json: boolean;
  dryRun: boolean;
}

/** `--mapping` is inline JSON or the path of a JSON file. */
export function readMapping(arg: string | undefined): unknown {
  if (arg === undefined) return undefined;
  const text = arg.trim().startsWith('{') ? arg : fs.existsSync(arg) ? fs.readFileSync(arg, 'utf8') : undefined;
  if (text === undefined) throw badInput(`--mapping: "${arg}" is neither JSON nor a file`);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw badInput(`--mapping is not valid JSON: ${(err as Error).message}`);
  }
}

export function registerImportCommand(program: Command): void {
  program
    .command('import')
    .description('bulk-import a CSV / NDJSON (optionally .gz) or CDNOW file; bad rows go to a rejects file')
    .addArgument(program.createArgument('<entity>', 'customers | transactions | comments | events').choices(ENTITIES))
    .argument('<file>', 'input file: .csv, .tsv, .ndjson, .jsonl (+ .gz); CDNOW files any name')
    .addOption(new Option('--format <format>', 'input layout').choices([...FORMATS]).default('generic'))
    .option('--mapping <json|file>', 'generic name → file column, e.g. {"customer_id":"CustNo"}')
    .option('--rejects <file>', 'where bad lines are written (default FILE.rejects.ndjson)')
    .option('--batch-size <n>', 'rows per upsert statement and database transaction', '2000')
    .option('--delimiter <char>', 'CSV delimiter (default , or tab for .tsv)')
    .option('--no-progress', 'no progress bar on stderr')
    .option('--json', 'print the summary as JSON on stdout')
    .option('--dry-run', 'parse and validate only; write nothing to the database')
    .action((entity: Entity, file: string, o: Opts) =>
      withApp(async (app) => {
        const bar = o.progress && process.stderr.isTTY ? new SingleBar({ format: `import ${entity} [{bar}] {percentage}% | {value}/{total} MB | {eta_formatted}` }) : null;
        bar?.start(Math.max(1, Math.round(fs.statSync(file).size / 1e6)), 0);
        try {
          const summary = await runImport(app.db.prisma, {
            entity,
            file,
            format: o.format,
            mapping: readMapping(o.mapping),
            rejectsFile: o.rejects,
            batchSize: Number(o.batchSize),
            delimiter: o.delimiter === '\\t' ? '\t' : o.delimiter,
            dryRun: o.dryRun,
            databaseUrl: app.db.backend === 'postgres' && app.env.IMPORT_EVENTS_COPY ? app.env.DATABASE_URL : undefined,
            copyConnections: app.env.IMPORT_EVENTS_CONNECTIONS,
            onProgress: bar ? (read) => bar.update(Math.round(read / 1e6)) : undefined,
          });
          bar?.stop();
          const embedJob = summary.commentsChanged ? await enqueueEmbeddings(app) : summary.searchesChanged ? ((await enqueueSearchEmbeddings(app))?.id ?? null) : null;
          console.log(o.json ? JSON.stringify({ ...summary, embedJobId: embedJob }) : formatSummary(summary));
          if (embedJob && !o.json) console.log(`embedding job ${embedJob} queued for the new or re-worded ${summary.commentsChanged ? 'comments' : 'search texts'}`);
          if (summary.rejectedLines) process.exitCode = 2;
        } finally {
          bar?.stop();
        }
      }),
    );
}

const EMBED_JOB = 'embeddings.embed-comments';

/** One job for everything pending (no id list: an import can change millions of comments); deduplicated. */
async function enqueueEmbeddings(app: App): Promise<string | null> {
  if (!jobNames().includes(EMBED_JOB)) return null;
  try {
    return (await app.queue.enqueue(EMBED_JOB, {}, { dedupeKey: EMBED_JOB })).id;
  } catch (err) {
    app.log.warn({ err: (err as Error).message }, 'could not enqueue comment embeddings; run `valuegraph job embeddings.embed-comments`');
    return null;
  }
}

export function formatSummary(s: ImportSummary): string {
  const skipped = Object.entries(s.skipped).map(([why, n]) => `${n} ${why}`).join(', ');
  return [
    `read      ${s.linesRead} lines of ${s.file} (${s.format}) in ${s.seconds.toFixed(1)} s`,
    s.dryRun
      ? `valid     ${s.rowsValid} ${s.entity} (dry run: nothing written)`
      : `written   ${s.rowsValid} ${s.entity}: ${s.inserted} inserted, ${s.updated} updated, ${s.unchanged} unchanged` +
        (s.customersCreated ? `; ${s.customersCreated} customers created implicitly` : ''),
    `rejected  ${s.rejectedLines} lines${s.rejectedLines ? ` (see ${s.rejectsFile})` : ''}`,
    `skipped   ${s.skippedLines} lines${skipped ? ` (${skipped})` : ''}`,
  ].join('\n');
}
