import { forwardedHeaders } from '../delivery/send';
import type { CapturedRequest } from './payload';
import { textOf } from './store';

/** Exports of one capture: a cURL command and a HAR 1.2 log, both reproducing the request as received. */

const shellQuote = (text: string) => `'${text.replaceAll("'", `'\\''`)}'`;

/** Headers worth repeating: hop-by-hop, Host and Content-Length are the client's to set, as on a replay. */
function exportedHeaders(headers: readonly [string, string][]): [string, string][] {
  const flat = forwardedHeaders(headers);
  const pairs: [string, string][] = [];
  for (let index = 0; index + 1 < flat.length; index += 2) pairs.push([flat[index]!, flat[index + 1]!]);
  return pairs;
}

export function curlCommand(method: string, url: string, request: CapturedRequest): string {
  const lines = [`curl -X ${shellQuote(method)} ${shellQuote(url)}`];
  for (const [name, value] of exportedHeaders(request.headers))
    lines.push(`  -H ${shellQuote(`${name}: ${value}`)}`);
  const text = textOf(request.body);
  if (request.body.length === 0) return `${lines.join(' \\\n')}\n`;
  if (text !== undefined && !text.includes('\0')) {
    lines.push(`  --data-binary ${shellQuote(text)}`);
    return `${lines.join(' \\\n')}\n`;
  }
  // Binary bodies travel as base64 through a pipe so the shell never sees raw bytes.
  lines.push('  --data-binary @-');
  return `printf '%s' ${shellQuote(request.body.toString('base64'))} | base64 -d | ${lines.join(' \\\n')}\n`;
}

export function harLog(input: {
  method: string;
  url: string;
  request: CapturedRequest;
  receivedAt: string;
  creatorVersion: string;
}) {
  const { request } = input;
  const headers = request.headers.map(([name, value]) => ({ name, value }));
  const contentType =
    request.headers.find(([name]) => name.toLowerCase() === 'content-type')?.[1] ??
    'application/octet-stream';
  const text = textOf(request.body);
  const queryString = request.query
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const [name = '', ...rest] = part.split('=');
      return { name, value: rest.join('=') };
    });
  return {
    log: {
      version: '1.2',
      creator: { name: 'WebhookVault', version: input.creatorVersion },
      entries: [
        {
          startedDateTime: input.receivedAt,
          time: 0,
          request: {
            method: input.method,
            url: input.url,
            httpVersion: 'HTTP/1.1',
            cookies: [],
            headers,
            queryString,
            ...(request.body.length > 0
              ? {
                  postData:
                    text !== undefined
                      ? { mimeType: contentType, text }
                      : { mimeType: contentType, text: request.body.toString('base64'), encoding: 'base64' },
                }
              : {}),
            headersSize: -1,
            bodySize: request.body.length,
          },
          response: {
            status: 0,
            statusText: '',
            httpVersion: 'HTTP/1.1',
            cookies: [],
            headers: [],
            content: { size: 0, mimeType: 'x-unknown' },
            redirectURL: '',
            headersSize: -1,
            bodySize: -1,
          },
          cache: {},
          timings: { send: 0, wait: 0, receive: 0 },
        },
      ],
    },
  };
}
