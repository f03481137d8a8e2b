/**
 * `valuegraph export scores|segments|features --format csv|parquet --out FILE` and
 * `valuegraph bi create-role|drop-role|grant`: the BI side of the CLI (README "BI integration").
 */
import { type Command, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { withApp } from '../cli-app';
import { DomainError } from '../lib/errors';
import { BI_GROUP_ROLE } from './bi-role.sql';
import { createBiLoginRole, dropBiLoginRole, ensureBiGroupRole } from './bi-role.service';
import { EXPORT_KINDS, type ExportKind } from './export-columns';
import { EXPORT_FORMATS, type ExportFormat, exportFormatFor } from './export.sinks';
import { runExport } from './export.service';

interface ExportOpts {
  format?: ExportFormat;
  out: string;
  pageSize: string;
  rowGroupSize: string;
  progress: boolean;
  json: boolean;
}

export function registerBiCommands(program: Command): void {
  program
    .command('export')
    .description('stream a BI view (latest scores, current segments or current features) to a CSV or parquet file')
    .addArgument(program.createArgument('<what>', EXPORT_KINDS.join(' | ')).choices(EXPORT_KINDS))
    .addOption(new Option('--format <format>', 'csv | parquet (default: from the --out extension)').choices([...EXPORT_FORMATS]))
    .requiredOption('--out <file>', 'output file (written as FILE.partial, renamed when complete)')
    .option('--page-size <n>', 'rows per database query', '5000')
    .option('--row-group-size <n>', 'rows per parquet row group', '25000')
    .option('--no-progress', 'no progress bar on stderr')
    .option('--json', 'print the summary as JSON on stdout')
    .action((what: ExportKind, o: ExportOpts) =>
      withApp(async (app) => {
        const format = exportFormatFor(o.out, o.format);
        const bar = o.progress && process.stderr.isTTY ? new SingleBar({ format: `export ${what} [{bar}] {percentage}% | {value}/{total} customers | {eta_formatted}` }) : null;
        try {
          const s = await runExport(app.db.prisma, {
            kind: what,
            format,
            out: o.out,
            pageSize: Number(o.pageSize),
            rowGroupRows: Number(o.rowGroupSize),
            onProgress: bar
              ? (done, total) => {
                  if (!bar.getTotal() || bar.getTotal() !== total) bar.start(total, done);
                  bar.update(done);
                }
              : undefined,
          });
          bar?.stop();
          console.log(
            o.json
              ? JSON.stringify(s)
              : `exported ${s.rows} rows × ${s.columns} columns of ${s.view} to ${s.file} (${format}, ${(s.bytes / 1e6).toFixed(1)} MB) in ${s.seconds.toFixed(1)} s`,
          );
        } finally {
          bar?.stop();
        }
      }),
    );

  const bi = program.command('bi').description(`read-only database roles for BI tools (group role ${BI_GROUP_ROLE}, schema bi)`);
  bi.command('create-role <name>')
    .description(`create a login role in ${BI_GROUP_ROLE} (password from BI_ROLE_PASSWORD or generated); prints its connection string`)
    .action((name: string) =>
      withApp(async (app) => {
        const r = await createBiLoginRole(app.db.prisma, { name, password: app.env.BI_ROLE_PASSWORD, databaseUrl: app.env.DATABASE_URL });
        console.error(`${r.created ? 'created' : 'updated the password of'} login role ${r.role} (member of ${BI_GROUP_ROLE}: SELECT on schema bi only)`);
        if (r.connectionString) {
          if (r.generated) console.error('generated password; store the connection string now, it is not shown again:');
          console.log(r.connectionString);
        } else {
          console.error(
            'the embedded database (PGlite) has no network listener, so no BI tool can log in with this role; ' +
              'use `valuegraph export`, or run on PostgreSQL (DATABASE_URL)',
          );
          if (r.generated) console.log(r.password);
        }
      }),
    );
  bi.command('drop-role <name>')
    .description(`drop a login role made by create-role (refuses other roles)`)
    .action((name: string) =>
      withApp(async (app) => {
        await dropBiLoginRole(app.db.prisma, name);
        console.log(`dropped role ${name}`);
      }),
    );
  bi.command('grant')
    .description(`create ${BI_GROUP_ROLE} if missing and grant it SELECT on schema bi (when the migration lacked CREATEROLE)`)
    .action(() =>
      withApp(async (app) => {
        if (!(await ensureBiGroupRole(app.db.prisma))) throw new DomainError('FORBIDDEN', `this database role may not create ${BI_GROUP_ROLE} (needs CREATEROLE)`);
        console.log(`${BI_GROUP_ROLE} has USAGE on schema bi and SELECT on its views`);
      }),
    );
}
