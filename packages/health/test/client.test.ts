import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHealth } from '../src/client';
import { HEALTH_MEDIA_TYPE } from '../src/contract';
import { healthPlugin } from '../src/plugin';
import type { ProbeResult } from '../src/probes';
import { probe } from './helpers';

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function stop(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}

describe('checkHealth against the health plugin', () => {
  let app: FastifyInstance;
  let baseUrl: string;
  let sqlite: ProbeResult = { status: 'pass' };

  beforeAll(async () => {
    app = Fastify({ logger: false });
    app.register(healthPlugin, {
      serviceId: 'cronping',
      description: 'CronPing API',
      version: '1.4.0',
      probes: [probe({ name: 'sqlite:responseTime', check: () => sqlite })],
    });
    baseUrl = await app.listen({ port: 0, host: '127.0.0.1' });
  });

  afterAll(async () => {
    await app.close();
  });

  it('returns ok with the report and timing for a passing service', async () => {
    sqlite = { status: 'pass' };
    const outcome = await checkHealth(`${baseUrl}/health`);
    expect(outcome, JSON.stringify(outcome)).toMatchObject({
      ok: true,
      httpStatus: 200,
      report: { status: 'pass', serviceId: 'cronping' },
    });
    expect(outcome.responseTimeMs).toBeGreaterThanOrEqual(0);
  });

  it('returns ok with a fail report for a 503: the contract held, the service is failing', async () => {
    sqlite = { status: 'fail', output: 'SQLITE_BUSY' };
    const outcome = await checkHealth(`${baseUrl}/health`);
    expect(outcome, JSON.stringify(outcome)).toMatchObject({ ok: true, httpStatus: 503 });
    expect(outcome.ok && outcome.report.checks?.['sqlite:responseTime']?.[0]?.output).toBe('SQLITE_BUSY');
    expect(outcome.report?.status).toBe('fail');
  });

  it('reads liveness and readiness the same way', async () => {
    sqlite = { status: 'pass' };
    expect(await checkHealth(`${baseUrl}/livez`)).toMatchObject({ ok: true, report: { status: 'pass' } });
    expect(await checkHealth(`${baseUrl}/readyz`)).toMatchObject({ ok: true, report: { notes: ['ready'] } });
  });

  it('names a 404 and its media type when the path has no health endpoint', async () => {
    const outcome = await checkHealth(`${baseUrl}/nope`);
    expect(outcome).toMatchObject({ ok: false, httpStatus: 404 });
    expect(outcome.ok || outcome.error).toMatch(/HTTP 404: Content-Type is application\/json/);
  });
});

describe('checkHealth against a misbehaving server', () => {
  let server: Server;
  let baseUrl: string;

  const respond = (res: ServerResponse, status: number, contentType: string | undefined, body: string) => {
    if (contentType) res.setHeader('content-type', contentType);
    res.writeHead(status).end(body);
  };

  beforeAll(async () => {
    server = createServer((req, res) => {
      switch (req.url) {
        case '/wrong-media-type':
          return respond(res, 200, 'application/json', '{"status":"pass"}');
        case '/no-content-type':
          return respond(res, 200, undefined, '{"status":"pass"}');
        case '/empty-201':
          return respond(res, 201, HEALTH_MEDIA_TYPE, '');
        case '/invalid-json':
          return respond(res, 200, HEALTH_MEDIA_TYPE, '{"status": "pass",');
        case '/ok-but-fail':
          return respond(res, 200, `${HEALTH_MEDIA_TYPE}; charset=utf-8`, '{"status":"fail"}');
        case '/unavailable-but-pass':
          return respond(res, 503, HEALTH_MEDIA_TYPE, '{"status":"pass"}');
        case '/off-contract':
          return respond(
            res,
            200,
            HEALTH_MEDIA_TYPE,
            '{"status":"ok","checks":{"sqlite":[{"status":"pass"}]}}',
          );
        case '/proxy-error':
          return respond(res, 502, 'text/html', '<h1>502 Bad Gateway</h1>');
        case '/redirect':
          res.writeHead(302, { location: '/login' }).end();
          return;
        case '/hang':
          return; // never answers
        default:
          return respond(res, 404, 'text/plain', 'not found');
      }
    });
    baseUrl = await listen(server);
  });

  afterAll(async () => {
    await stop(server);
  });

  async function errorFor(path: string, timeoutMs?: number): Promise<string> {
    const outcome = await checkHealth(`${baseUrl}${path}`, timeoutMs ? { timeoutMs } : {});
    expect(outcome.ok, `${path} should not be ok`).toBe(false);
    return outcome.ok ? '' : outcome.error;
  }

  it('rejects a response in the wrong media type, naming the type it got', async () => {
    expect(await errorFor('/wrong-media-type')).toMatch(
      /HTTP 200: Content-Type is application\/json, expected application\/health\+json/,
    );
    expect(await errorFor('/no-content-type')).toMatch(/no Content-Type/);
  });

  it('rejects an empty body, naming the status code', async () => {
    expect(await errorFor('/empty-201')).toMatch(/HTTP 201: empty body/);
  });

  it('rejects a body that is not JSON', async () => {
    expect(await errorFor('/invalid-json')).toMatch(/HTTP 200: body is not valid JSON/);
  });

  it('rejects a 200 that reports fail, and still returns the report it parsed', async () => {
    const outcome = await checkHealth(`${baseUrl}/ok-but-fail`);
    expect(outcome).toMatchObject({ ok: false, httpStatus: 200, report: { status: 'fail' } });
    expect(outcome.ok || outcome.error).toMatch(/status "fail" requires HTTP 503/);
  });

  it('rejects a 503 that reports pass', async () => {
    expect(await errorFor('/unavailable-but-pass')).toMatch(/HTTP 503: status "pass" requires HTTP 200/);
  });

  it('lists every contract violation with its path', async () => {
    const error = await errorFor('/off-contract');
    expect(error).toMatch(/does not match the health contract/);
    expect(error).toMatch(/status: /);
    expect(error).toMatch(/checks\.sqlite: .*component:measurement/);
  });

  it('reports a proxy error page as the proxy error it is', async () => {
    expect(await errorFor('/proxy-error')).toMatch(/HTTP 502: Content-Type is text\/html/);
  });

  it('does not follow redirects', async () => {
    expect(await errorFor('/redirect')).toMatch(/HTTP 302: redirect to \/login is not followed/);
  });

  it('gives up after the timeout and says so', async () => {
    // A real (short) timeout: the server never answers, so no assertion depends on how long it took.
    expect(await errorFor('/hang', 50)).toMatch(/timed out after 50ms/);
  });

  it('names a refused connection', async () => {
    const closed = createServer();
    const url = await listen(closed);
    await stop(closed);
    const outcome = await checkHealth(`${url}/health`);
    expect(outcome).toMatchObject({ ok: false });
    expect(outcome.ok || outcome.error).toMatch(/ECONNREFUSED/);
    expect(outcome.httpStatus).toBeUndefined();
  });

  it('names the refused connection for a service that just stopped after answering a check', async () => {
    const service = Fastify({ logger: false });
    service.register(healthPlugin, { serviceId: 'flagbit', description: 'x', version: '1.0.0', probes: [] });
    const url = await service.listen({ port: 0, host: '127.0.0.1' });
    expect((await checkHealth(`${url}/livez`)).ok).toBe(true);
    await service.close();
    const outcome = await checkHealth(`${url}/livez`);
    expect(outcome.ok || outcome.error, 'no kept-alive socket hides the real cause').toMatch(/ECONNREFUSED/);
  });

  it('keeps URL credentials out of the error', async () => {
    const outcome = await checkHealth(`http://monitor:hunter2@127.0.0.1:1/health`, { timeoutMs: 1000 });
    const error = outcome.ok ? '' : outcome.error;
    expect(error).toContain('GET http://***@127.0.0.1:1/health failed');
    expect(error).not.toContain('hunter2');
  });
});
