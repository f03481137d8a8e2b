import { DomainError } from '../lib/errors';
import { selftestJob } from './handlers/selftest.job';
import { refreshFeaturesJob } from './handlers/refresh-features.job';
import { scoreCustomersJob } from './handlers/score-customers.job';
import { trainModelJob } from './handlers/train-model.job';
import { embeddingJobs } from './handlers/embed-comments.job';
import { embedSearchesJob } from './handlers/embed-searches.job';
import { behaviorVectorsJob } from './handlers/behavior-vectors.job';
import { trainFlowJobs } from './handlers/train-flow.jobs';
import { embedFlowJobs } from './handlers/embed-flow.jobs';
import { scoreFlowJobs } from './handlers/score-flow.jobs';
import type { JobDefinition } from './job.types';

/** Every job ValueGraph runs. Transports look handlers up here by name; nothing else registers jobs. */
const all: JobDefinition<any, any>[] = [selftestJob, trainModelJob, scoreCustomersJob, refreshFeaturesJob, ...embeddingJobs, embedSearchesJob, behaviorVectorsJob, ...trainFlowJobs, ...embedFlowJobs, ...scoreFlowJobs];

const byName = new Map(all.map((j) => [j.name, j]));

export function jobNames(): string[] {
  return [...byName.keys()];
}

export function getJob(name: string): JobDefinition<unknown, unknown> {
  const job = byName.get(name);
  if (!job) throw new DomainError('BAD_USER_INPUT', `unknown job "${name}"`);
  return job;
}

/** Validates a payload against the job's schema; the error names the offending field. */
export function parsePayload(name: string, payload: unknown): unknown {
  const result = getJob(name).payload.safeParse(payload ?? {});
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ field: i.path.join('.') || 'payload', message: i.message }));
  throw new DomainError('BAD_USER_INPUT', `invalid payload for job "${name}"`, { issues });
}
