/**
 * The environment schema: every wrong variable named in one run, secrets
 * never echoed.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.ts';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('loadConfig', () => {
  it('gives the defaults for an empty environment', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ SIPS_ENV: 'simulator', HOST: '127.0.0.1', PORT: 3000 });
    expect(config.API_KEYS).toBeUndefined();
  });

  it('names every wrong variable at once, production requirements included', () => {
    const problems = problemsOf({
      SIPS_ENV: 'production',
      PORT: 'abc',
      PUBLIC_URL: 'not a url',
      SIPS_SECRET_KEY: 'zzz-secret-zzz',
    });
    expect(problems.map((problem) => problem.split(':')[0]).sort()).toEqual([
      'API_KEYS',
      'CARD_VAULT_KEYS',
      'PORT',
      'PUBLIC_URL',
      'SIPS_KEY_VERSION',
      'SIPS_MERCHANT_ID',
    ]);
    expect(problems.join('\n')).not.toContain('zzz-secret-zzz');
  });

  it('counts blank secrets as missing and never repeats a secret value', () => {
    const problems = problemsOf({ SIPS_ENV: 'production', SIPS_SECRET_KEY: ' ', API_KEYS: 'zzz' });
    expect(problems).toContain('SIPS_SECRET_KEY: is required when SIPS_ENV=production');
    expect(problems.join('\n')).not.toContain('zzz');
    expect(problems.some((problem) => problem.startsWith('API_KEYS'))).toBe(false);
  });

  it('reads the schedule settings, naming a wrong janitor threshold', () => {
    const config = loadConfig({
      CAPTURE_LIMIT_POLICY: 'capture',
      CAPTURE_LIMIT_WARN_BEFORE: '12h',
      JANITOR_INTERVAL: '30s',
      JANITOR_THRESHOLDS: 'authorizing=2m, outcome_unknown=1h',
    });
    expect(config.CAPTURE_LIMIT_POLICY).toBe('capture');
    expect(config.CAPTURE_LIMIT_WARN_BEFORE).toEqual([43_200_000]);
    expect(config.JANITOR_INTERVAL).toEqual([30_000]);
    expect(config.JANITOR_THRESHOLDS).toEqual({ authorizing: 120_000, outcome_unknown: 3_600_000 });
    expect(config.CAPTURE_LIMIT_MAX_REAUTHORIZATIONS).toBe(6);
    expect(
      loadConfig({ CAPTURE_LIMIT_MAX_REAUTHORIZATIONS: '0' }).CAPTURE_LIMIT_MAX_REAUTHORIZATIONS,
    ).toBe(0);
    const problems = problemsOf({
      JANITOR_THRESHOLDS: 'sleeping=5m',
      CAPTURE_LIMIT_POLICY: 'pray',
      CAPTURE_LIMIT_MAX_REAUTHORIZATIONS: '-1',
    });
    expect(problems.map((problem) => problem.split(':')[0]).sort()).toEqual([
      'CAPTURE_LIMIT_MAX_REAUTHORIZATIONS',
      'CAPTURE_LIMIT_POLICY',
      'JANITOR_THRESHOLDS',
    ]);
    expect(problems.join('\n')).toContain('"sleeping=5m" is not status=duration');
  });
});
