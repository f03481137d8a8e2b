import { ConfigError, parseEnv } from '../../src/config/env';
import { latestFireAtOrBefore, nextFireAfter, retrainConfigFromEnv, validateRetrainConfig } from '../../src/models/training/retrain-schedule';

describe('retraining schedule configuration', () => {
  it('parses RETRAIN_CRON with cron-parser at start-up; the error names the variable', () => {
    expect(() => parseEnv({ RETRAIN_CRON: 'every monday' })).toThrow(/^Invalid configuration: RETRAIN_CRON is not a valid cron expression/);
    expect(() => parseEnv({ RETRAIN_CRON: '61 * * * *' })).toThrow(ConfigError);
    expect(() => parseEnv({ RETRAIN_CRON: '0 3 * * 1', RETRAIN_OPTIONS: '[1]' })).toThrow(/RETRAIN_OPTIONS must be a JSON object/);
    const env = parseEnv({ RETRAIN_CRON: '0 3 * * 1', RETRAIN_OPTIONS: '{"nEstimators":50}', RETRAIN_HORIZON_DAYS: '180' });
    expect(retrainConfigFromEnv(env)).toEqual({ cron: '0 3 * * 1', horizonDays: 180, options: { nEstimators: 50 } });
    expect(retrainConfigFromEnv(parseEnv({}))).toBeNull();
  });

  it('checks RETRAIN_OPTIONS against the models.train payload', () => {
    expect(() => validateRetrainConfig({ cron: '* * * * *', horizonDays: 30, options: { nEstimators: 0 } })).toThrow(/RETRAIN_OPTIONS nEstimators/);
    expect(() => validateRetrainConfig({ cron: '* * * * *', horizonDays: 30, options: { nEstimators: 10, force: true } })).not.toThrow();
  });

  it('computes fire times in UTC, with optional seconds', () => {
    const t = new Date('2026-03-02T02:59:59.500Z'); // a Monday
    expect(nextFireAfter('0 3 * * 1', t).toISOString()).toBe('2026-03-02T03:00:00.000Z');
    expect(nextFireAfter('*/10 * * * * *', new Date('2026-03-02T03:00:00.000Z')).toISOString()).toBe('2026-03-02T03:00:10.000Z');
  });

  it('finds the latest fire at or before an instant (the one a catch-up replays)', () => {
    expect(latestFireAtOrBefore('0 3 * * 1', new Date('2026-03-04T12:00:00.000Z')).toISOString()).toBe('2026-03-02T03:00:00.000Z');
    expect(latestFireAtOrBefore('0 3 * * 1', new Date('2026-03-02T03:00:00.000Z')).toISOString()).toBe('2026-03-02T03:00:00.000Z');
    expect(latestFireAtOrBefore('0 3 * * 1', new Date('2026-03-02T02:59:59.999Z')).toISOString()).toBe('2026-02-23T03:00:00.000Z');
  });
});
