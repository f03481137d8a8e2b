import { DateTimeScalar, DecimalScalar, JSONScalar } from '../scalars';
import { authResolvers } from './auth.resolvers';
import { customersResolvers } from './customers.resolvers';
import { embeddingsResolvers } from './embeddings.resolvers';
import { eventsResolvers } from './events.resolvers';
import { healthResolvers } from './health.resolvers';
import { ingestResolvers } from './ingest.resolvers';
import { jobsResolvers } from './jobs.resolvers';
import { featuresResolvers } from './features.resolvers';
import { modelsResolvers } from './models.resolvers';
import { similarityResolvers } from './similarity.resolvers';
import { segmentsResolvers } from './segments.resolvers';

/** Every domain's resolver map; Apollo merges them. Add a domain: one import and one entry. */
export const resolverMaps: Record<string, any>[] = [
  { DateTime: DateTimeScalar, JSON: JSONScalar, Decimal: DecimalScalar },
  healthResolvers,
  jobsResolvers,
  featuresResolvers,
  modelsResolvers,
  customersResolvers,
  ingestResolvers,
  authResolvers,
  embeddingsResolvers,
  similarityResolvers,
  segmentsResolvers,
  eventsResolvers,
];
