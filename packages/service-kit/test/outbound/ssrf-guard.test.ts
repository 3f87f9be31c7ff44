import { request as undiciRequest } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import {
  checkOutboundUrl,
  createOutboundClient,
  OutboundBlockedError,
  type OutboundClient,
  type OutboundClientOptions,
  OutboundTimeoutError,
  parseOutboundAllowlist,
} from '../../src/outbound';
import { fakeLookup, recordConnectAttempts, startTestServer, type TestServer } from './harness';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function server(...args: Parameters<typeof startTestServer>): Promise<TestServer> {
  const started = await startTestServer(...args);
  cleanups.push(() => started.close());
  return started;
}

function client(allowlist: string | undefined, options: Omit<OutboundClientOptions, 'allowlist'> = {}) {
  const created: OutboundClient = createOutboundClient({
    allowlist: parseOutboundAllowlist(allowlist),
    ...options,
  });
  cleanups.push(() => created.close());
  return created;
}

function connectAttempts() {
  const recorder = recordConnectAttempts();
  cleanups.push(() => recorder.stop());
  return recorder;
}

async function blockedError(promise: Promise<unknown>): Promise<OutboundBlockedError> {
  const error = await promise.then(
    () => undefined,
    (rejection: unknown) => rejection,
  );
  expect(error, 'the request should have been refused').toBeInstanceOf(OutboundBlockedError);
  return error as OutboundBlockedError;
}

describe('createOutboundClient: loopback and allowlist', () => {
  it('refuses 127.0.0.1 when the allowlist is empty', async () => {
    const target = await server();
    const error = await blockedError(client(undefined).request(`${target.origin}/hook`));
    expect(error).toMatchObject({ code: 'outbound_blocked', address: '127.0.0.1', reason: 'loopback' });
    expect(target.connectionCount(), 'no connection should reach the server').toBe(0);
  });

  it('reaches 127.0.0.1 when 127.0.0.1 is in the allowlist', async () => {
    const target = await server((_, res) => res.end('hello'));
    const response = await client('127.0.0.1').request(`${target.origin}/hook?x=1`);
    expect(response.status).toBe(200);
    expect(response.body.toString()).toBe('hello');
    expect(response.truncated).toBe(false);
    expect(response.durationMs).toBeGreaterThanOrEqual(0);
    expect(target.requests.map((r) => r.url)).toEqual(['/hook?x=1']);
  });

  it('reaches loopback through a CIDR entry covering it', async () => {
    const target = await server();
    const response = await client('127.0.0.0/8').request(`${target.origin}/`);
    expect(response.status).toBe(200);
  });

  it('refuses localhost, a name the system resolver maps to loopback', async () => {
    const target = await server();
    const error = await blockedError(client(undefined).request(`http://localhost:${target.port}/`));
    expect(error.reason).toBe('loopback');
    expect(error.message).toMatch(
      new RegExp(
        `^refusing to connect to \\S+ \\(loopback\\) for http://localhost:${target.port}/: set OUTBOUND_ALLOWLIST`,
      ),
    );
    expect(target.connectionCount()).toBe(0);
  });

  it('names the address, the range and the URL in the refusal message', async () => {
    const lookup = fakeLookup({ localhost: ['127.0.0.1'] });
    const error = await blockedError(client(undefined, { lookup }).request('http://localhost:1234/'));
    expect(error.message).toBe(
      'refusing to connect to 127.0.0.1 (loopback) for http://localhost:1234/: set OUTBOUND_ALLOWLIST to allow it',
    );
    expect(error.url).toBe('http://localhost:1234/');
  });

  it('leaves credentials and the query string out of the refusal', async () => {
    const lookup = fakeLookup({ internal: ['10.0.0.1'] });
    const error = await blockedError(
      client(undefined, { lookup }).request('http://user:hunter2@internal/hook?token=s3cret#frag'),
    );
    expect(error.url).toBe('http://internal/hook');
    expect(error.message).not.toMatch(/hunter2|s3cret/);
  });

  it('reaches a host whose name is in the allowlist, whatever it resolves to', async () => {
    const target = await server();
    const lookup = fakeLookup({ 'hooks.test': ['127.0.0.1'] });
    const response = await client('HOOKS.test', { lookup }).request(`http://hooks.test:${target.port}/`);
    expect(response.status).toBe(200);
    expect(target.requests).toHaveLength(1);
  });

  it('does not let a hostname entry allow the same address reached by IP', async () => {
    const target = await server();
    const error = await blockedError(client('localhost').request(`${target.origin}/`));
    expect(error.reason).toBe('loopback');
  });
});

describe('createOutboundClient: IP literals are refused without connecting', () => {
  it.each([
    ['http://[::1]:PORT/', '::1', 'loopback'],
    ['http://[::ffff:127.0.0.1]:PORT/', '::ffff:7f00:1', 'ipv4Mapped'],
    ['http://[::ffff:7f00:1]:PORT/', '::ffff:7f00:1', 'ipv4Mapped'],
    ['http://2130706433:PORT/', '127.0.0.1', 'loopback'],
    ['http://0177.0.0.1:PORT/', '127.0.0.1', 'loopback'],
    ['http://0x7f.1:PORT/', '127.0.0.1', 'loopback'],
    ['http://0.0.0.0:PORT/', '0.0.0.0', 'unspecified'],
    ['http://[::]:PORT/', '::', 'unspecified'],
    ['http://169.254.169.254/latest/meta-data/', '169.254.169.254', 'linkLocal'],
    ['http://10.1.2.3/', '10.1.2.3', 'private'],
    ['http://172.16.0.1/', '172.16.0.1', 'private'],
    ['http://192.168.1.1/', '192.168.1.1', 'private'],
    ['http://100.64.0.1/', '100.64.0.1', 'carrierGradeNat'],
    ['http://224.0.0.1/', '224.0.0.1', 'multicast'],
    ['http://255.255.255.255/', '255.255.255.255', 'broadcast'],
    ['http://240.0.0.1/', '240.0.0.1', 'reserved'],
    ['http://[fe80::1]/', 'fe80::1', 'linkLocal'],
    ['http://[fd12:3456::1]/', 'fd12:3456::1', 'uniqueLocal'],
    ['http://[ff02::1]/', 'ff02::1', 'multicast'],
    ['http://[::127.0.0.1]/', '::7f00:1', 'ipv4Compatible'],
    ['https://[64:ff9b::a00:1]/', '64:ff9b::a00:1', 'rfc6052'],
  ])('refuses %s as %s (%s)', async (template, address, reason) => {
    const target = await server();
    const attempts = connectAttempts();
    const lookup = fakeLookup({});
    const url = template.replace('PORT', String(target.port));

    const error = await blockedError(client(undefined, { lookup }).request(url));

    expect(error).toMatchObject({ address, reason });
    expect(attempts.count(), 'undici should not have tried to connect').toBe(0);
    expect(target.connectionCount(), 'no connection should reach the server').toBe(0);
    expect(lookup.calls, 'an IP literal needs no lookup').toEqual([]);
  });

  it('refuses an IP literal in a blocked range even when used through the dispatcher directly', async () => {
    const target = await server();
    const outbound = client(undefined);
    const url = `http://[::ffff:127.0.0.1]:${target.port}/`;

    const error = await blockedError(undiciRequest(url, { dispatcher: outbound.dispatcher }));

    expect(error).toMatchObject({ address: '::ffff:7f00:1', reason: 'ipv4Mapped' });
    expect(target.connectionCount()).toBe(0);
  });

  it('refuses a name resolving to loopback when used through the dispatcher directly', async () => {
    const target = await server();
    const lookup = fakeLookup({ 'rebind.test': ['127.0.0.1'] });
    const outbound = client(undefined, { lookup });

    const error = await blockedError(
      undiciRequest(`http://rebind.test:${target.port}/`, { dispatcher: outbound.dispatcher }),
    );

    expect(error).toMatchObject({
      address: '127.0.0.1',
      reason: 'loopback',
      url: `http://rebind.test:${target.port}/`,
    });
    expect(target.connectionCount()).toBe(0);
  });
});

describe('createOutboundClient: schemes', () => {
  it.each(['file:///etc/passwd', 'ftp://127.0.0.1/', 'gopher://127.0.0.1:70/', 'data:text/plain,hi'])(
    'refuses the non-http URL %s',
    async (url) => {
      const attempts = connectAttempts();
      const error = await blockedError(client('127.0.0.1').request(url));
      expect(error).toMatchObject({ reason: 'unsupported_scheme', address: null });
      expect(error.message).toMatch(/only http: and https: URLs/);
      expect(attempts.count()).toBe(0);
    },
  );

  it('refuses a string that is not an absolute URL', async () => {
    const error = await blockedError(client(undefined).request('/relative/path'));
    expect(error.reason).toBe('invalid_url');
  });
});

describe('createOutboundClient: resolved addresses', () => {
  it('refuses a hostname whose lookup returns a private address', async () => {
    const lookup = fakeLookup({ 'internal.example.com': ['10.0.0.5'] });
    const error = await blockedError(client(undefined, { lookup }).request('http://internal.example.com/'));
    expect(error).toMatchObject({ address: '10.0.0.5', reason: 'private' });
    expect(lookup.calls).toEqual(['internal.example.com']);
  });

  it.each([
    ['169.254.169.254', 'linkLocal'],
    ['100.100.100.200', 'carrierGradeNat'],
    ['::ffff:10.0.0.1', 'ipv4Mapped'],
    ['fd00::1', 'uniqueLocal'],
    ['0.0.0.0', 'unspecified'],
  ])('refuses a hostname resolving to %s (%s)', async (address, reason) => {
    const lookup = fakeLookup({ 'evil.example.com': [address] });
    const error = await blockedError(client(undefined, { lookup }).request('https://evil.example.com/'));
    expect(error).toMatchObject({ address, reason });
  });

  it('connects only to the allowed address when a name resolves to a mix of allowed and refused ones', async () => {
    const target = await server();
    const lookup = fakeLookup({ 'mixed.test': ['10.0.0.5', '127.0.0.1'] });
    const response = await client('127.0.0.1', { lookup }).request(`http://mixed.test:${target.port}/`);
    expect(response.status).toBe(200);
  });

  it('resolves the host once per connection and connects to the address it checked', async () => {
    const target = await server();
    let answers = 0;
    // A rebinding resolver: the first answer passes the check, any later one would point inside.
    const lookup = async () => {
      answers += 1;
      return [{ address: answers === 1 ? '127.0.0.1' : '10.0.0.5', family: 4 as const }];
    };
    const response = await client('127.0.0.1', { lookup }).request(`http://rebind.test:${target.port}/`);
    expect(response.status).toBe(200);
    expect(answers, 'the name should have been resolved exactly once').toBe(1);
    expect(target.requests).toHaveLength(1);
  });

  it('passes a resolver failure through as the resolver error', async () => {
    const lookup = fakeLookup({});
    await expect(client(undefined, { lookup }).request('http://nowhere.test/')).rejects.toMatchObject({
      code: 'ENOTFOUND',
    });
  });
});

describe('createOutboundClient: responses', () => {
  it('returns a redirect to the caller without following it', async () => {
    const elsewhere = await server();
    const target = await server((_, res) => {
      res.writeHead(302, { location: `${elsewhere.origin}/second` }).end();
    });
    const response = await client('127.0.0.1').request(`${target.origin}/first`);
    expect(response.status).toBe(302);
    expect(response.headers.location).toBe(`${elsewhere.origin}/second`);
    expect(elsewhere.requests, 'the redirect target must never be hit').toEqual([]);
    expect(elsewhere.connectionCount()).toBe(0);
  });

  it('cuts the response body at maxResponseBytes and says so', async () => {
    const target = await server((_, res) => res.end('x'.repeat(100_000)));
    const response = await client('127.0.0.1', { maxResponseBytes: 1000 }).request(`${target.origin}/`);
    expect(response.body.length).toBe(1000);
    expect(response.truncated).toBe(true);
  });

  it('returns a body exactly at the cap whole', async () => {
    const target = await server((_, res) => res.end('y'.repeat(1000)));
    const response = await client('127.0.0.1', { maxResponseBytes: 1000 }).request(`${target.origin}/`);
    expect(response.body.toString()).toBe('y'.repeat(1000));
    expect(response.truncated).toBe(false);
  });

  it('sends the method, headers and body it is given', async () => {
    const target = await server((_, res) => res.writeHead(201).end());
    const response = await client('127.0.0.1').request(`${target.origin}/items`, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain', 'x-trace': 'abc' },
      body: 'payload',
    });
    expect(response.status).toBe(201);
    expect(target.requests[0]).toMatchObject({
      method: 'PUT',
      body: 'payload',
      headers: expect.objectContaining({ 'content-type': 'text/plain', 'x-trace': 'abc' }),
    });
  });

  it('sends a flat header list in its order, with repeats and the case of names kept', async () => {
    const target = await server((_, res) => res.writeHead(204).end());
    await client('127.0.0.1').request(`${target.origin}/replay`, {
      method: 'POST',
      headers: ['X-Second', '2', 'x-first', '1', 'X-Second', 'again'],
      body: 'raw',
    });
    const sent = target.requests[0]?.rawHeaders ?? [];
    const ours = sent.filter((_, index) => index % 2 === 0 && /^x-/i.test(sent[index] ?? ''));
    expect(ours).toEqual(['X-Second', 'x-first', 'X-Second']);
    expect(target.requests[0]?.headers['x-second']).toBe('2, again');
  });

  it('gives up with OutboundTimeoutError when the server never answers', async () => {
    // The handler never responds; only the outcome (a timeout error) is asserted, never a duration.
    const target = await server(() => {});
    const error = await client('127.0.0.1')
      .request(`${target.origin}/slow`, { timeoutMs: 50 })
      .then(
        () => undefined,
        (rejection: unknown) => rejection,
      );
    expect(error).toBeInstanceOf(OutboundTimeoutError);
    expect(error).toMatchObject({ code: 'outbound_timeout', timeoutMs: 50, url: `${target.origin}/slow` });
  });
});

describe('checkOutboundUrl', () => {
  it('returns the checked address for an allowed target', async () => {
    const lookup = fakeLookup({
      'hooks.example.com': ['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c'],
    });
    const checked = await checkOutboundUrl(
      'https://hooks.example.com/in',
      parseOutboundAllowlist(undefined),
      {
        lookup,
      },
    );
    expect(checked.address).toBe('93.184.215.14');
    expect(checked.addresses).toEqual(['93.184.215.14', '2606:2800:21f:cb07:6820:80da:af6b:8b2c']);
    expect(checked.url.href).toBe('https://hooks.example.com/in');
  });

  it('rejects a loopback IP literal without resolving anything', async () => {
    const lookup = fakeLookup({});
    const error = await blockedError(
      checkOutboundUrl('http://[::1]/', parseOutboundAllowlist(undefined), { lookup }),
    );
    expect(error).toMatchObject({ address: '::1', reason: 'loopback', url: 'http://[::1]/' });
    expect(lookup.calls).toEqual([]);
  });

  it('rejects a name resolving to a private address', async () => {
    const lookup = fakeLookup({ 'db.internal': ['192.168.0.10'] });
    const error = await blockedError(
      checkOutboundUrl('http://db.internal:5432/', parseOutboundAllowlist(undefined), { lookup }),
    );
    expect(error).toMatchObject({ address: '192.168.0.10', reason: 'private' });
  });

  it('accepts an allowlisted private network', async () => {
    const lookup = fakeLookup({ 'db.internal': ['10.20.30.40'] });
    const checked = await checkOutboundUrl('http://db.internal/', parseOutboundAllowlist('10.0.0.0/8'), {
      lookup,
    });
    expect(checked.address).toBe('10.20.30.40');
  });

  it('rejects a non-http scheme', async () => {
    const error = await blockedError(
      checkOutboundUrl('ftp://files.example.com/', parseOutboundAllowlist(undefined)),
    );
    expect(error.reason).toBe('unsupported_scheme');
  });
});
