import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { ConfigError, parseEnv } from '../../src/config/env';

describe('environment', () => {
  it('applies the embedded defaults when nothing is set', () => {
    const env = parseEnv({});
    expect(env.DATABASE_URL).toBeUndefined();
    expect(env.REDIS_URL).toBeUndefined();
    expect(env.DATA_DIR).toBe('./data');
    expect(env.EMBEDDING_DIM).toBe(384);
    expect(env.PORT).toBe(4000);
  });

  it.each([
    [{ DATABASE_URL: 'nonsense' }, 'DATABASE_URL'],
    [{ DATABASE_URL: 'mysql://x@y/z' }, 'DATABASE_URL'],
    [{ PORT: 'eighty' }, 'PORT'],
    [{ EMBEDDING_DIM: '0' }, 'EMBEDDING_DIM'],
    [{ REDIS_URL: 'redis://127.0.0.1:6379' }, 'REDIS_URL'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
  ])('names the bad variable: %j', (raw, variable) => {
    let err: unknown;
    try {
      parseEnv(raw);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(variable);
    expect((err as Error).message).toMatch(new RegExp(`^Invalid configuration: ${variable} `));
  });

  it('treats empty strings as unset and hides passwords in messages', () => {
    expect(parseEnv({ DATABASE_URL: '' }).DATABASE_URL).toBeUndefined();
    expect(() => parseEnv({ REDIS_URL: 'redis://u:secret@h:1', DATABASE_URL: '' })).toThrow(/REDIS_URL/);
    expect(() => parseEnv({ DATABASE_URL: 'http://u:secret@h/db' })).toThrow(/u:\*\*\*@h/);
  });

  it('a bad variable stops the API with exit code 1 and one line naming it', () => {
    const root = path.resolve(__dirname, '../..');
    const r = spawnSync(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      cwd: root,
      env: { PATH: process.env.PATH, DATABASE_URL: 'nonsense' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status).toBe(1);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Invalid configuration: DATABASE_URL must be a URL/);
  }, 60_000);
});
