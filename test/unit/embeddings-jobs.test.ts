import { parseEnv } from '../../src/config/env';
import { configForPayload } from '../../src/embeddings/embed.jobs-payload';
import { modelKey } from '../../src/embeddings/embedding.config';
import { jobNames, parsePayload } from '../../src/jobs/registry';

describe('embedding jobs', () => {
  it('are registered', () => {
    expect(jobNames()).toEqual(expect.arrayContaining(['embeddings.embed-comments', 'embeddings.refresh-profiles']));
  });

  it('validate comment ids as decimal strings and name the field', () => {
    expect(parsePayload('embeddings.embed-comments', { commentIds: ['1', '9007199254740993'] })).toMatchObject({
      commentIds: ['1', '9007199254740993'],
      chunkSize: 256,
      refreshProfiles: true,
    });
    try {
      parsePayload('embeddings.embed-comments', { commentIds: ['12a'] });
      throw new Error('expected a validation error');
    } catch (err) {
      expect((err as { details: { issues: { field: string }[] } }).details.issues[0]!.field).toBe('commentIds.0');
    }
  });

  it('carry the model settings in the payload but never the API key', () => {
    const env = parseEnv({ EMBEDDING_PROVIDER: 'openai', EMBEDDING_OPENAI_URL: 'http://gpu:8000/v1', EMBEDDING_OPENAI_KEY: 'sk-secret', EMBEDDING_MODEL: 'bge-m3', EMBEDDING_DIM: '1024' });
    const cfg = configForPayload(env);
    expect(cfg).toMatchObject({ provider: 'openai', model: 'bge-m3', dim: 1024, openaiUrl: 'http://gpu:8000/v1' });
    expect(JSON.stringify(cfg)).not.toContain('sk-secret');
  });

  it('keep int8, fp32 and served vectors under different model names', () => {
    expect(modelKey({ provider: 'transformers', model: 'Xenova/all-MiniLM-L6-v2', quantized: true })).toBe('Xenova/all-MiniLM-L6-v2');
    expect(modelKey({ provider: 'transformers', model: 'Xenova/all-MiniLM-L6-v2', quantized: false })).toBe('Xenova/all-MiniLM-L6-v2:fp32');
    expect(modelKey({ provider: 'openai', model: 'bge-m3', quantized: true })).toBe('openai:bge-m3');
  });
});
