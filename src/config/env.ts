import { CronExpressionParser } from 'cron-parser';
import { z } from 'zod';

/**
 * Every environment variable ValueGraph reads, parsed once at start-up. A bad value stops the process with a
 * single line naming the variable, instead of failing later somewhere far from the cause.
 */
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    { message: `must be a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` },
  );

export const envSchema = z
  .object({
    NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    /** Unset: embedded PGlite under DATA_DIR. */
    DATABASE_URL: url(['postgres:', 'postgresql:']).optional(),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
    DATA_DIR: z.string().min(1).default('./data'),
    /**
     * PostgreSQL event imports COPY each batch into a session temp table (false: one JSON statement per batch, as on
     * PGlite — for a connection pooler in transaction mode, which would lose the session's temp table).
     */
    IMPORT_EVENTS_COPY: bool.default(true),
    /**
     * Connections the COPY path splits each events batch over (by externalId, so a repeated event keeps its order).
     * 1 writes each batch in one transaction. On a 2-core box 2 gave the same wall time for 7–10% more CPU (the
     * import itself takes the other core; BENCHMARKS.md "Events"): worth raising only where the database has cores
     * to spare.
     */
    IMPORT_EVENTS_CONNECTIONS: z.coerce.number().int().min(1).max(16).default(1),
    /** Unset: jobs run in worker threads inside the API process. */
    REDIS_URL: url(['redis:', 'rediss:']).optional(),
    QUEUE_PREFIX: z.string().regex(/^[a-z0-9_-]+$/i).default('valuegraph'),
    PORT: z.coerce.number().int().min(0).max(65535).default(4000),
    HOST: z.string().default('127.0.0.1'),
    /** Worker threads (in-process transport) or sandboxed threads per worker process (BullMQ). */
    JOB_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
    JOB_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
    /** How long a job may go without a heartbeat before it counts as lost and is retried or failed. */
    JOB_LOCK_MS: z.coerce.number().int().min(1000).max(3_600_000).default(30_000),
    /** BullMQ only: workers that build the rows and grow the trees of one models.train (1: one job); at most one per 25 trees. */
    TRAIN_FANOUT: z.coerce.number().int().min(1).max(64).default(1),
    SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(0).max(600_000).default(25_000),
    EMBEDDING_MODEL: z.string().min(1).default('Xenova/all-MiniLM-L6-v2'),
    /** Dimension of the configured embedding model; vectors of other sizes are kept apart, never mixed. */
    EMBEDDING_DIM: z.coerce.number().int().min(2).max(4000).default(384),
    /** Holdout metric a new CLV version must beat to become champion (models.train). */
    CHAMPION_METRIC: z.enum(['normalizedGini', 'spearman', 'topDecileShare', 'mae', 'rmse']).default('normalizedGini'),
    /** transformers: local ONNX via transformers.js; openai: any /v1/embeddings server; none: no semantic features. */
    EMBEDDING_PROVIDER: z.enum(['transformers', 'openai', 'none']).default('transformers'),
    EMBEDDING_CACHE_DIR: z.string().min(1).default('./models-cache'),
    EMBEDDING_ALLOW_REMOTE: bool.default(true),
    EMBEDDING_QUANTIZED: bool.default(true),
    EMBEDDING_THREADS: z.coerce.number().int().min(1).max(64).default(1),
    /** Small batches win on CPU: less padding, and attention cost grows with the square of the padded length. */
    EMBEDDING_BATCH_SIZE: z.coerce.number().int().min(1).max(1024).default(16),
    /** Token limit per text (longer texts are truncated); unset: 256, or the tokenizer's model_max_length if smaller. */
    EMBEDDING_MAX_TOKENS: z.coerce.number().int().min(8).max(8192).optional(),
    EMBEDDING_OPENAI_URL: url(['http:', 'https:']).optional(),
    EMBEDDING_OPENAI_KEY: z.string().optional(),
    EMBEDDING_OPENAI_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(30_000),
    EMBEDDING_OPENAI_MAX_BATCH: z.coerce.number().int().min(1).max(2048).default(64),
    /** Weight of a comment in the customer's profile vector halves every this many days. */
    PROFILE_HALF_LIFE_DAYS: z.coerce.number().min(1).max(36_500).default(180),
    /** JSON file of concept prototypes ({ "name": ["example phrase", ...] }); unset: the built-in set. */
    CONCEPTS_FILE: z.string().min(1).optional(),
    /** hnsw.ef_search of similar-customer queries: recall vs latency (BENCHMARKS.md, "Similar customers"). */
    SIMILARITY_EF_SEARCH: z.coerce.number().int().min(10).max(1000).default(100),
    /** Filters passing fewer than this share of customers skip the HNSW index for an exact scan of the matches. */
    SIMILARITY_EXACT_BELOW: z.coerce.number().min(0).max(1).default(0.03),
    /** Scheduled retraining: a cron expression (5 fields, or 6 with seconds first), UTC; unset: no schedule. */
    RETRAIN_CRON: z
      .string()
      .optional()
      .superRefine((v, ctx) => {
        if (v === undefined) return;
        try {
          CronExpressionParser.parse(v, { tz: 'UTC' });
        } catch (err) {
          ctx.addIssue({ code: 'custom', message: `is not a valid cron expression: ${(err as Error).message}` });
        }
      }),
    /** Horizon of the scheduled trainings; their cutoff is the fire time. */
    RETRAIN_HORIZON_DAYS: z.coerce.number().int().min(1).max(3650).default(365),
    /** JSON object of models.train options for the scheduled trainings, e.g. {"nEstimators":200}. */
    RETRAIN_OPTIONS: z
      .string()
      .optional()
      .transform((v, ctx) => {
        if (v === undefined) return undefined;
        try {
          const o: unknown = JSON.parse(v);
          if (o && typeof o === 'object' && !Array.isArray(o)) return o as Record<string, unknown>;
        } catch {
          // reported below
        }
        ctx.addIssue({ code: 'custom', message: 'must be a JSON object of models.train options' });
        return z.NEVER;
      }),
    /** Pause of the automatic features.refresh after an ingest: batches arriving meanwhile join the same run. */
    FEATURE_REFRESH_DEBOUNCE_MS: z.coerce.number().int().min(0).max(600_000).default(2000),
    /** `valuegraph bi create-role` only: the new BI login role's password; unset: one is generated and printed once. */
    BI_ROLE_PASSWORD: z.string().optional(),
    GRAPHQL_INTROSPECTION: bool.default(false),
    GRAPHQL_LANDING_PAGE: bool.default(false),
  })
  .superRefine((env, ctx) => {
    if (env.REDIS_URL && !env.DATABASE_URL) {
      ctx.addIssue({
        code: 'custom',
        path: ['REDIS_URL'],
        message: 'needs DATABASE_URL too: separate worker processes cannot share the embedded database',
      });
    }
  });

export type Env = z.infer<typeof envSchema>;

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    message: string,
  ) {
    super(`Invalid configuration: ${variable} ${message}`);
    this.name = 'ConfigError';
  }
}

/** Parse an environment; throws ConfigError naming the first bad variable. */
export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  // Empty strings mean "unset": shells and compose files often export VAR= to clear a default.
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ''));
  const result = envSchema.safeParse(cleaned);
  if (result.success) return Object.freeze(result.data);
  const issue = result.error.issues[0]!;
  const variable = String(issue.path[0] ?? 'environment');
  const value = cleaned[variable];
  const shown = value === undefined ? '' : ` (got ${JSON.stringify(redact(variable, value))})`;
  throw new ConfigError(variable, `${issue.message}${shown}`);
}

function redact(variable: string, value: string): string {
  if (!/URL$/.test(variable)) return value.length > 80 ? `${value.slice(0, 77)}...` : value;
  return value.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}

let cached: Env | undefined;

/** For entrypoints only: parse process.env once, or print one line and exit 1. */
export function loadEnvOrExit(): Env {
  if (cached) return cached;
  try {
    cached = parseEnv();
    return cached;
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(1);
    }
    throw err;
  }
}
