import { connect } from 'node:net';
import { checkHealth, HEALTH_MEDIA_TYPE, healthReportSchema } from '@studio/health';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import type { ServiceInstance } from '../src/app';
import { AppError } from '../src/errors';
import { buildTestService } from './harness';

let app: ServiceInstance | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function appWithRoutes() {
  app = await buildTestService();
  app.post(
    '/widgets',
    {
      schema: {
        body: z.object({ name: z.string().min(1), size: z.number().int().positive() }),
        querystring: z.object({ dryRun: z.enum(['true', 'false']).optional() }),
        response: { 201: z.object({ id: z.string(), name: z.string() }) },
      },
    },
    async (request, reply) => reply.code(201).send({ id: 'w1', name: request.body.name }),
  );
  app.get('/boom', async () => {
    throw new Error('connect ECONNREFUSED postgres://admin:hunter2@db.internal:5432');
  });
  app.get('/conflict', async () => {
    throw new AppError('conflict', 'That name is taken');
  });
  app.get('/bad-response', { schema: { response: { 200: z.object({ id: z.string() }) } } }, async () => ({
    id: 42 as unknown as string,
  }));
  await app.ready();
  return app;
}

describe('the error envelope', () => {
  it('answers an unknown route with 404 in the envelope, with the request id', async () => {
    const service = await appWithRoutes();
    const response = await service.inject({
      method: 'GET',
      url: '/nope?x=1',
      headers: { 'x-request-id': 'req-123' },
    });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toEqual({
      error: { code: 'not_found', message: 'Route GET /nope not found', requestId: 'req-123' },
    });
    expect(response.headers['x-request-id']).toBe('req-123');
  });

  it('names each invalid field of the body in the message and the details', async () => {
    const service = await appWithRoutes();
    const response = await service.inject({
      method: 'POST',
      url: '/widgets',
      payload: { name: '', size: -1 },
    });
    expect(response.statusCode).toBe(400);
    const { error } = response.json();
    expect(error.code).toBe('validation_failed');
    expect(error.message).toMatch(/body\.name: /);
    expect(error.message).toMatch(/body\.size: /);
    expect(error.details.map((detail: { path: string }) => detail.path).sort()).toEqual([
      '/body/name',
      '/body/size',
    ]);
  });

  it('names a missing required field', async () => {
    const service = await appWithRoutes();
    const response = await service.inject({ method: 'POST', url: '/widgets', payload: { size: 2 } });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.details).toEqual([{ path: '/body/name', message: expect.any(String) }]);
  });

  it('names an invalid query parameter as query.<name>', async () => {
    const service = await appWithRoutes();
    const response = await service.inject({
      method: 'POST',
      url: '/widgets?dryRun=maybe',
      payload: { name: 'a', size: 1 },
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.message).toMatch(/^query\.dryRun: /);
  });

  it('answers malformed JSON with 400 in the envelope', async () => {
    const service = await appWithRoutes();
    const response = await service.inject({
      method: 'POST',
      url: '/widgets',
      headers: { 'content-type': 'application/json' },
      payload: '{"name":',
    });
    expect(response.statusCode).toBe(400);
    expect(response.json().error.code).toBe('bad_request');
  });

  it('maps an AppError code to its status and keeps its message', async () => {
    const service = await appWithRoutes();
    const response = await service.inject({ method: 'GET', url: '/conflict' });
    expect(response.statusCode).toBe(409);
    expect(response.json().error).toMatchObject({ code: 'conflict', message: 'That name is taken' });
  });

  it('never echoes the details of a 5xx, which can carry connection strings', async () => {
    const service = await appWithRoutes();
    const response = await service.inject({ method: 'GET', url: '/boom' });
    expect(response.statusCode).toBe(500);
    expect(response.json().error).toMatchObject({ code: 'internal_error', message: 'Internal server error' });
    expect(response.body).not.toContain('hunter2');
  });

  it('turns a response that breaks its own schema into a plain 500', async () => {
    const service = await appWithRoutes();
    const response = await service.inject({ method: 'GET', url: '/bad-response' });
    expect(response.statusCode).toBe(500);
    expect(response.json().error.code).toBe('internal_error');
  });
});

describe('request ids', () => {
  it('generates a UUID when the caller sends none, and replaces an unsafe one', async () => {
    const service = await appWithRoutes();
    const plain = await service.inject({ method: 'GET', url: '/livez' });
    expect(plain.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const unsafe = await service.inject({
      method: 'GET',
      url: '/livez',
      headers: { 'x-request-id': 'bad id\n{"x":1}' },
    });
    expect(unsafe.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });
});

/** A request handler can wait on `gate` (opened by `release`) after calling `started`. */
function heldRequest() {
  let release: () => void = () => {};
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  let started: () => void = () => {};
  const requestStarted = new Promise<void>((resolve) => {
    started = resolve;
  });
  return { gate, release: () => release(), started: () => started(), requestStarted };
}

describe('createServiceApp', () => {
  it('serves a /health report that the health client validates, over a real socket', async () => {
    const service = await appWithRoutes();
    await service.listen({ host: '127.0.0.1', port: 0 });
    const address = service.server.address();
    if (!address || typeof address === 'string') throw new Error('expected a TCP address');
    const outcome = await checkHealth(`http://127.0.0.1:${address.port}/health`);
    expect(outcome.ok, JSON.stringify(outcome)).toBe(true);
    if (!outcome.ok) return;
    expect(outcome.report.serviceId).toBe('testsvc');
    expect(outcome.report.version).toBe('1.2.3');
    expect(Object.keys(outcome.report.checks ?? {})).toEqual(
      expect.arrayContaining([
        'sqlite:responseTime',
        'sqlite:migrations',
        'sqlite:writeRate',
        'sqlite:busy',
        'sqlite:walSize',
        'disk:utilization',
        'process:memory',
        'eventloop:delay',
      ]),
    );
  });

  it('is ready once started and answers /readyz with the health media type', async () => {
    const service = await appWithRoutes();
    const response = await service.inject({ method: 'GET', url: '/readyz' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toContain(HEALTH_MEDIA_TYPE);
    expect(healthReportSchema.parse(response.json()).status).toBe('pass');
  });

  it('publishes OpenAPI docs built from the route schemas at /docs/json', async () => {
    const service = await appWithRoutes();
    const response = await service.inject({ method: 'GET', url: '/docs/json' });
    expect(response.statusCode).toBe(200);
    const document = response.json();
    expect(document.info).toMatchObject({ title: 'Test service', version: '1.2.3' });
    expect(document.paths['/widgets'].post.requestBody.content['application/json'].schema.required).toEqual([
      'name',
      'size',
    ]);
    expect(document.paths['/health']).toBeUndefined();
  });

  it('lets an in-flight request finish before the database closes, and turns readiness to 503 first', async () => {
    const service = await buildTestService();
    app = service;
    const { gate, release, started, requestStarted } = heldRequest();
    service.get('/slow', async () => {
      started();
      await gate;
      service.database.ping();
      return { done: true };
    });
    await service.listen({ host: '127.0.0.1', port: 0 });
    const address = service.server.address();
    if (!address || typeof address === 'string') throw new Error('expected a TCP address');
    const inFlight = fetch(`http://127.0.0.1:${address.port}/slow`);
    await requestStarted;
    service.health.beginDrain();
    const readiness = await service.inject({ method: 'GET', url: '/readyz' });
    expect(readiness.statusCode).toBe(503);
    const closing = service.close();
    expect(service.database.open, 'the database stays open while a request is in flight').toBe(true);
    release();
    const response = await inFlight;
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ done: true });
    await closing;
    expect(service.database.open).toBe(false);
    app = undefined;
  });

  it('tells a keep-alive client whose request was in flight to close the connection, and closes', async () => {
    const service = await buildTestService();
    app = service;
    const { gate, release, started, requestStarted } = heldRequest();
    service.get('/slow', async () => {
      started();
      await gate;
      return { done: true };
    });
    await service.listen({ host: '127.0.0.1', port: 0 });
    const address = service.server.address();
    if (!address || typeof address === 'string') throw new Error('expected a TCP address');
    const socket = connect(address.port, '127.0.0.1');
    let answer = '';
    const ended = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
    });
    socket.write('GET /slow HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await requestStarted;
    service.health.beginDrain();
    const closing = service.close();
    release();
    await closing;
    await ended;
    expect(answer).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(answer.toLowerCase()).toContain('\r\nconnection: close\r\n');
    expect(answer.endsWith('{"done":true}')).toBe(true);
    app = undefined;
  });

  it('closes the database when the app closes', async () => {
    const service = await appWithRoutes();
    expect(service.database.open).toBe(true);
    await service.close();
    expect(service.database.open).toBe(false);
    app = undefined;
  });
});
