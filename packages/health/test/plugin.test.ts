import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { HEALTH_MEDIA_TYPE, type HealthReport, healthReportSchema } from '../src/contract';
import { type HealthPluginOptions, healthPlugin } from '../src/plugin';
import type { Probe, ProbeResult } from '../src/probes';
import { deferred, fixedClock, probe } from './helpers';

const apps: FastifyInstance[] = [];

afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

function buildApp(
  probes: Probe[] = [],
  overrides: Partial<HealthPluginOptions> = {},
  configure: (app: FastifyInstance) => void = () => {},
  serverOptions: { return503OnClosing?: boolean } = {},
): FastifyInstance {
  const app = Fastify({ logger: false, ...serverOptions });
  apps.push(app);
  configure(app);
  app.register(healthPlugin, {
    serviceId: 'cronping',
    description: 'CronPing API',
    version: '1.4.0',
    releaseId: '1.4.0+abc123',
    probes,
    now: fixedClock(),
    ...overrides,
  });
  return app;
}

/** Parses with the contract, so every test also proves the body is a valid report. */
function reportOf(response: { body: string }): HealthReport {
  const parsed = healthReportSchema.safeParse(JSON.parse(response.body));
  expect(parsed.success, `body is not a valid report: ${response.body}`).toBe(true);
  return parsed.data!;
}

function expectHealthHeaders(headers: Record<string, unknown>): void {
  expect(String(headers['content-type']).split(';')[0]).toBe(HEALTH_MEDIA_TYPE);
  expect(headers['cache-control']).toBe('no-store');
}

const failing =
  (output = 'down'): (() => ProbeResult) =>
  () => ({ status: 'fail', output });

describe('GET /livez', () => {
  it('answers 200 pass in the health media type without running any probe', async () => {
    let probeRuns = 0;
    const app = buildApp([
      probe({
        name: 'sqlite:responseTime',
        check: () => {
          probeRuns += 1;
          return { status: 'fail' };
        },
      }),
    ]);
    const response = await app.inject('/livez');
    expect(response.statusCode).toBe(200);
    expectHealthHeaders(response.headers);
    expect(reportOf(response)).toEqual({ status: 'pass' });
    expect(probeRuns, 'liveness must not depend on probes').toBe(0);
  });
});

describe('GET /readyz', () => {
  it('answers 200 once ready, reporting only the critical probes', async () => {
    const app = buildApp([
      probe({ name: 'sqlite:responseTime', critical: true }),
      probe({ name: 'process:memory', critical: false, check: failing() }),
    ]);
    const response = await app.inject('/readyz');
    expect(response.statusCode).toBe(200);
    expectHealthHeaders(response.headers);
    const report = reportOf(response);
    expect(report).toMatchObject({ status: 'pass', serviceId: 'cronping', notes: ['ready'] });
    expect(Object.keys(report.checks ?? {})).toEqual(['sqlite:responseTime']);
    expect(app.health.state).toBe('ready');
  });

  it('answers 503 "starting" to a request that reaches the router before onReady has completed', async () => {
    let duringStartup: { statusCode: number; body: string } | undefined;
    const app = buildApp([], {}, (instance) => {
      // Registered before the plugin, so it runs before the plugin's own onReady hook. inject() and
      // listen() both wait for ready, so the request goes through a server built on app.routing.
      instance.addHook('onReady', async () => {
        const server = createServer(instance.routing);
        try {
          await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
          const { port } = server.address() as AddressInfo;
          const response = await request(`http://127.0.0.1:${port}/readyz`);
          duringStartup = { statusCode: response.statusCode, body: await response.body.text() };
        } finally {
          server.closeAllConnections();
          await new Promise((resolve) => server.close(resolve));
        }
      });
    });
    await app.ready();
    expect(duringStartup?.statusCode).toBe(503);
    expect(reportOf(duringStartup!)).toMatchObject({ status: 'fail', notes: ['starting'] });
    expect((await app.inject('/readyz')).statusCode).toBe(200);
  });

  it('answers 503 "draining" after beginDrain, while liveness still passes', async () => {
    const app = buildApp([probe({ name: 'sqlite:responseTime' })]);
    await app.ready();
    app.health.beginDrain();
    const response = await app.inject('/readyz');
    expect(response.statusCode).toBe(503);
    expectHealthHeaders(response.headers);
    expect(reportOf(response)).toMatchObject({ status: 'fail', notes: ['draining'] });
    expect(app.health.state).toBe('draining');
    expect((await app.inject('/livez')).statusCode).toBe(200);
  });

  it('answers 503 "draining" from preClose on, over a real socket', async () => {
    let duringClose: { statusCode: number; body: string } | undefined;
    let address = '';
    // return503OnClosing: false lets the route answer during close instead of Fastify's generic 503.
    const app = buildApp([], {}, () => {}, { return503OnClosing: false });
    // Added once the plugin has loaded, so it runs after the plugin's own preClose hook.
    app.after(() => {
      app.addHook('preClose', async () => {
        const response = await request(`${address}/readyz`);
        duringClose = { statusCode: response.statusCode, body: await response.body.text() };
      });
    });
    address = await app.listen({ port: 0, host: '127.0.0.1' });
    await app.close();
    expect(duringClose?.statusCode).toBe(503);
    expect(reportOf(duringClose!)).toMatchObject({ status: 'fail', notes: ['draining'] });
  });

  it('answers 503 naming the critical probe that fails', async () => {
    const app = buildApp([
      probe({ name: 'sqlite:responseTime', critical: true, check: failing('SQLITE_CANTOPEN') }),
      probe({ name: 'disk:utilization', critical: true }),
    ]);
    const response = await app.inject('/readyz');
    expect(response.statusCode).toBe(503);
    const report = reportOf(response);
    expect(report.status).toBe('fail');
    expect(report.notes).toEqual(['critical probe failing: sqlite:responseTime']);
    expect(report.checks?.['sqlite:responseTime']?.[0]?.output).toBe('SQLITE_CANTOPEN');
  });
});

describe('GET /health', () => {
  it('answers 200 with the full report: identity, every probe, timestamps', async () => {
    const app = buildApp([
      probe({ name: 'sqlite:responseTime', componentType: 'datastore' }),
      probe({ name: 'process:uptime', critical: false }),
    ]);
    const response = await app.inject('/health');
    expect(response.statusCode).toBe(200);
    expectHealthHeaders(response.headers);
    expect(reportOf(response)).toEqual({
      status: 'pass',
      serviceId: 'cronping',
      description: 'CronPing API',
      version: '1.4.0',
      releaseId: '1.4.0+abc123',
      checks: {
        'sqlite:responseTime': [
          { status: 'pass', componentType: 'datastore', time: '2025-01-02T03:04:05.000Z' },
        ],
        'process:uptime': [{ status: 'pass', time: '2025-01-02T03:04:05.000Z' }],
      },
    });
  });

  it('answers 200 warn when only a non-critical probe fails', async () => {
    const app = buildApp([probe({ name: 'process:memory', critical: false, check: failing() })]);
    const response = await app.inject('/health');
    expect(response.statusCode).toBe(200);
    expect(reportOf(response).status).toBe('warn');
  });

  it('answers 503 fail when a critical probe fails', async () => {
    const app = buildApp([probe({ name: 'sqlite:responseTime', check: failing() })]);
    const response = await app.inject('/health');
    expect(response.statusCode).toBe(503);
    expectHealthHeaders(response.headers);
    expect(reportOf(response).status).toBe('fail');
  });

  it('omits releaseId when none is configured', async () => {
    const app = buildApp([], { releaseId: undefined });
    expect(reportOf(await app.inject('/health'))).not.toHaveProperty('releaseId');
  });

  it('runs the probes once for concurrent requests', async () => {
    const gate = deferred<ProbeResult>();
    let probeRuns = 0;
    const app = buildApp([
      probe({
        name: 'sqlite:responseTime',
        check: () => {
          probeRuns += 1;
          return gate.promise;
        },
      }),
    ]);
    await app.ready();
    const responses = Promise.all([app.inject('/health'), app.inject('/health')]);
    // inject() does no I/O, so one turn of the event loop brings both requests into the handler, where
    // the first is still waiting on the gate.
    await new Promise<void>((resolve) => setImmediate(resolve));
    gate.resolve({ status: 'pass' });
    expect((await responses).map((response) => response.statusCode)).toEqual([200, 200]);
    expect(probeRuns).toBe(1);
  });
});

describe('app.health decorator and lifecycle', () => {
  it('serves a probe added after registration', async () => {
    const app = buildApp();
    await app.ready();
    app.health.addProbe(probe({ name: 'sqlite:responseTime', check: failing() }));
    expect((await app.inject('/readyz')).statusCode).toBe(503);
    expect(Object.keys(reportOf(await app.inject('/health')).checks ?? {})).toEqual(['sqlite:responseTime']);
  });

  it('rejects a probe whose name is not component:measurement, at addProbe and at registration', async () => {
    const app = buildApp();
    await app.ready();
    expect(() => app.health.addProbe(probe({ name: 'sqlite' }))).toThrow(/component:measurement/);

    const invalid = buildApp([probe({ name: 'sqlite' })]);
    await expect(invalid.ready()).rejects.toThrow(/component:measurement/);
  });

  it('rejects an empty serviceId', async () => {
    const app = buildApp([], { serviceId: '' });
    await expect(app.ready()).rejects.toThrow(/serviceId/);
  });

  it('closes every probe that holds a resource when the app closes', async () => {
    const closed: string[] = [];
    const app = buildApp([probe({ name: 'eventloop:delay', close: () => void closed.push('eventloop') })]);
    await app.ready();
    app.health.addProbe(
      probe({ name: 'sqlite:responseTime', close: async () => void closed.push('sqlite') }),
    );
    await app.close();
    expect(closed.sort()).toEqual(['eventloop', 'sqlite']);
  });

  it('hides the routes from OpenAPI and exempts them from rate limiting', async () => {
    const routes: RouteOptions[] = [];
    const app = buildApp([], {}, (instance) => {
      instance.addHook('onRoute', (route) => void routes.push(route));
    });
    await app.ready();
    const healthRoutes = routes.filter((route) => ['/livez', '/readyz', '/health'].includes(route.url));
    expect(healthRoutes.filter((route) => route.method === 'GET').map((route) => route.url)).toEqual([
      '/livez',
      '/readyz',
      '/health',
    ]);
    for (const route of healthRoutes) {
      expect(route.schema?.hide, route.url).toBe(true);
      expect(route.config, route.url).toMatchObject({ rateLimit: false });
    }
  });
});
