import diagnosticsChannel from 'node:diagnostics_channel';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { OutboundLookup } from '../../src/outbound';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  /** Names and values as they came on the wire: order, repeats and case kept. */
  rawHeaders: string[];
  body: string;
}

export interface TestServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  port: number;
  requests: ReceivedRequest[];
  /** TCP connections accepted, whether or not a request followed. */
  connectionCount(): number;
  close(): Promise<void>;
}

type Respond = (request: ReceivedRequest, response: http.ServerResponse) => void;

/** A real HTTP server on 127.0.0.1, port 0, that records what reaches it. */
export async function startTestServer(respond: Respond = (_, res) => res.end('ok')): Promise<TestServer> {
  const requests: ReceivedRequest[] = [];
  let connections = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const received: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(received);
      respond(received, res);
    });
  });
  server.on('connection', () => {
    connections += 1;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    port,
    requests,
    connectionCount: () => connections,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** Counts undici connection attempts in this process (the `undici:client:beforeConnect` channel). */
export function recordConnectAttempts(): { count(): number; stop(): void } {
  let attempts = 0;
  const onConnect = () => {
    attempts += 1;
  };
  diagnosticsChannel.subscribe('undici:client:beforeConnect', onConnect);
  return {
    count: () => attempts,
    stop: () => diagnosticsChannel.unsubscribe('undici:client:beforeConnect', onConnect),
  };
}

/** A resolver from a fixed table, recording every name it is asked for; unknown names fail like DNS. */
export function fakeLookup(table: Record<string, string[]>): OutboundLookup & { calls: string[] } {
  const calls: string[] = [];
  const lookup = async (hostname: string) => {
    calls.push(hostname);
    const addresses = table[hostname];
    if (addresses === undefined) {
      throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    }
    return addresses.map((address) => ({
      address,
      family: address.includes(':') ? (6 as const) : (4 as const),
    }));
  };
  return Object.assign(lookup, { calls });
}
