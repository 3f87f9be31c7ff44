import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { checkHealth } from '@studio/health';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { createHealthDispatcher } from '../src/audit/audit';
import { onCleanup } from './harness';

/** A keep-alive HTTP server that counts the TCP connections it accepts. */
async function startCountingServer() {
  let connections = 0;
  const server = createServer({ keepAliveTimeout: 60_000 }, (_request, response) => {
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end('ok');
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const stop = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  onCleanup(stop);
  return { url, stop, connections: () => connections };
}

describe('the health checks’ dispatcher', () => {
  it('opens a fresh connection for every request, even when the server would keep the socket alive', async () => {
    const server = await startCountingServer();
    const dispatcher = createHealthDispatcher(1000);
    onCleanup(() => dispatcher.close());
    for (let i = 0; i < 3; i += 1) {
      // No `reset` here: only the dispatcher decides whether a socket is reused.
      const response = await request(`${server.url}/health`, { dispatcher });
      await response.body.text();
    }
    expect(server.connections()).toBe(3);
  });

  it('names the refused connection for a server stopped after the previous check', async () => {
    const server = await startCountingServer();
    const dispatcher = createHealthDispatcher(1000);
    onCleanup(() => dispatcher.close());
    const before = await checkHealth(`${server.url}/health`, { dispatcher, timeoutMs: 2000 });
    expect(before.ok).toBe(false); // text/plain is not the health contract, but the server answered
    expect(before.httpStatus).toBe(200);
    await server.stop();
    const after = await checkHealth(`${server.url}/health`, { dispatcher, timeoutMs: 2000 });
    expect(after.ok).toBe(false);
    if (after.ok) return;
    expect(after.error).toMatch(/ECONNREFUSED/);
    expect(after.error).not.toMatch(/other side closed|UND_ERR_SOCKET/);
  });
});
