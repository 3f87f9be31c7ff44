import { Writable } from 'node:stream';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { loggerOptions, redactUrl } from '../src/logger';

function captureLogger(urlSecrets?: RegExp[]) {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  const logger = pino(loggerOptions({ service: 'testsvc', level: 'info', urlSecrets }), stream);
  return { logger, lines };
}

describe('log redaction', () => {
  it('blanks secrets in config objects, headers and credential fields', () => {
    const { logger, lines } = captureLogger();
    logger.info({ config: { INTERNAL_TOKEN: 'internal-secret-value', PORT: 4102 } }, 'started');
    logger.info(
      { req: { headers: { authorization: 'Bearer cp_live_secret', 'x-api-key': 'k-secret' } } },
      'req',
    );
    logger.info(
      { account: { apiKey: 'cp_abc', webhookSecret: 'whsec_abc', email: 'a@example.com' } },
      'acct',
    );
    const output = lines.join('');
    for (const secret of ['internal-secret-value', 'cp_live_secret', 'k-secret', 'cp_abc', 'whsec_abc']) {
      expect(output, `log output leaked ${secret}`).not.toContain(secret);
    }
    expect(output).toContain('a@example.com');
    expect(output).toContain('4102');
  });

  it('replaces secrets inside logged request URLs', () => {
    expect(redactUrl('/ping/abc-key/backup?create=1', [/^\/ping\/([^/?]+)/])).toBe(
      '/ping/[redacted]/backup?create=1',
    );
    expect(redactUrl('/v1/account', [/^\/ping\/([^/?]+)/])).toBe('/v1/account');
    const { logger, lines } = captureLogger([/^\/h\/([^/?]+)/]);
    logger.info({ req: { method: 'POST', url: '/h/tok_secret/path', ip: '127.0.0.1' } }, 'capture');
    expect(lines.join('')).not.toContain('tok_secret');
    expect(lines.join('')).toContain('/h/[redacted]/path');
  });
});
