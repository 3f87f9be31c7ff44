import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { onCleanup, tempDirectory, testEnvironment } from './harness';

/** Starts the real server entry (src/server.ts under tsx) and resolves with its base URL once it listens. */
function startServer(directory: string): Promise<{ child: ChildProcess; url: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, ...testEnvironment(directory, { PORT: '0', DELIVERY_POLL_MS: '50' }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  onCleanup(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout?.setEncoding('utf8');
    child.stdout?.on('data', (chunk: string) => {
      output += chunk;
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(output);
      if (match) resolve({ child, url: match[1]! });
    });
    child.stderr?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
    });
    child.on('exit', (code) => reject(new Error(`server exited with ${code} before listening:\n${output}`)));
  });
}

describe('durable outbox', () => {
  it('delivers a forwarded capture after the server is killed with SIGKILL mid-delivery and restarted', async () => {
    const directory = tempDirectory();
    const arrivals: { body: Buffer; response: ServerResponse }[] = [];
    const waiters: (() => void)[] = [];
    const receiver = createServer((request: IncomingMessage, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        arrivals.push({ body: Buffer.concat(chunks), response });
        // The first delivery is left hanging: the server dies while it waits for our answer.
        if (arrivals.length > 1) response.writeHead(200).end();
        for (const waiter of waiters.splice(0)) waiter();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    onCleanup(
      () =>
        new Promise<void>((resolve) => {
          receiver.closeAllConnections();
          receiver.close(() => resolve());
        }),
    );
    const waitForArrivals = async (count: number) => {
      while (arrivals.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
    };
    const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/in`;

    const first = await startServer(directory);
    const signup = await fetch(`${first.url}/v1/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'kill@example.com' }),
    });
    const { apiKey } = (await signup.json()) as { apiKey: string };
    const auth = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' };
    const endpoint = (await (
      await fetch(`${first.url}/v1/endpoints`, {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ name: 'k' }),
      })
    ).json()) as { id: string; token: string };
    const rule = await fetch(`${first.url}/v1/endpoints/${endpoint.id}/forwarding`, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ targetUrl: receiverUrl }),
    });
    expect(rule.status).toBe(201);
    const payload = Buffer.from('{"order":"must arrive"}');
    const captured = await fetch(`${first.url}/h/${endpoint.token}`, { method: 'POST', body: payload });
    expect(captured.status).toBe(200);

    await waitForArrivals(1);
    first.child.kill('SIGKILL');
    await new Promise((resolve) => first.child.once('exit', resolve));

    const second = await startServer(directory);
    await waitForArrivals(2);
    expect(arrivals[1]?.body.equals(payload)).toBe(true);

    // The attempt is recorded right after the receiver answers; ask until the record shows it.
    let status = '';
    for (let tries = 0; tries < 200 && status !== 'succeeded'; tries++) {
      const list = (await (
        await fetch(`${second.url}/v1/endpoints/${endpoint.id}/deliveries`, { headers: auth })
      ).json()) as { items: { status: string }[] };
      status = list.items[0]?.status ?? '';
    }
    expect(status).toBe('succeeded');
  }, 30_000);
});
