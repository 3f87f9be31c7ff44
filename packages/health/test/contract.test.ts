import { describe, expect, it } from 'vitest';
import { HEALTH_MEDIA_TYPE, healthReportSchema, httpStatusFor } from '../src/contract';

// The example from draft-inadarei-api-health-check-06 section 3, with the bare `uptime` key renamed to
// satisfy the studio's stricter `component:measurement` rule.
const draftExample = {
  status: 'pass',
  version: '1',
  releaseId: '1.2.2',
  notes: [''],
  output: '',
  serviceId: 'f03e522f-1f44-4062-9b55-9587f91c9c41',
  description: 'health of authz service',
  checks: {
    'cassandra:responseTime': [
      {
        componentId: 'dfd6cf2b-1b6e-4412-a0b8-f6f7797a60d2',
        componentType: 'datastore',
        observedValue: 250,
        observedUnit: 'ms',
        status: 'pass',
        affectedEndpoints: ['/users/{userId}', '/customers/{customerId}/status'],
        time: '2018-01-17T03:36:48Z',
        output: '',
      },
    ],
    'cpu:utilization': [
      { componentId: '6fd416e0-8920-410f-9c7b-c479000f7227', node: 1, observedValue: 85, status: 'warn' },
    ],
    'system:uptime': [
      { componentType: 'system', observedValue: 1209600.245, observedUnit: 's', status: 'pass' },
    ],
  },
  links: { about: 'http://api.example.com/about/authz' },
};

describe('health contract', () => {
  it('uses the application/health+json media type', () => {
    expect(HEALTH_MEDIA_TYPE).toBe('application/health+json');
  });

  it('maps pass and warn to 200 and fail to 503', () => {
    expect(httpStatusFor('pass')).toBe(200);
    expect(httpStatusFor('warn')).toBe(200);
    expect(httpStatusFor('fail')).toBe(503);
  });

  it('accepts the draft example report', () => {
    const result = healthReportSchema.safeParse(draftExample);
    expect(result.success, JSON.stringify(result.error?.issues)).toBe(true);
  });

  it('accepts a bare status as the minimal report', () => {
    expect(healthReportSchema.parse({ status: 'warn' })).toEqual({ status: 'warn' });
  });

  it('rejects a report without a status or with an unknown one', () => {
    expect(healthReportSchema.safeParse({}).success).toBe(false);
    expect(healthReportSchema.safeParse({ status: 'ok' }).success).toBe(false);
  });

  it.each(['sqlite', ':responseTime', 'sqlite:', 'a:b:c', 'sqlite :x'])('rejects the check key %j', (key) => {
    const result = healthReportSchema.safeParse({ status: 'pass', checks: { [key]: [{ status: 'pass' }] } });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(['checks', key]);
  });

  it('accepts a component:measurement check key', () => {
    const report = { status: 'pass', checks: { 'sqlite:responseTime': [{ status: 'pass' }] } };
    expect(healthReportSchema.safeParse(report).success).toBe(true);
  });

  it('rejects a check entry without a status or with a time that is not RFC 3339', () => {
    const noStatus = { status: 'pass', checks: { 'sqlite:responseTime': [{ observedValue: 1 }] } };
    const badTime = {
      status: 'pass',
      checks: { 'sqlite:responseTime': [{ status: 'pass', time: 'yesterday' }] },
    };
    expect(healthReportSchema.safeParse(noStatus).success).toBe(false);
    expect(healthReportSchema.safeParse(badTime).success).toBe(false);
  });
});
