import { createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { env, parseConfig, serviceConfigShape } from '@studio/service-kit';
import { z } from 'zod';

const KEY_BYTES = 32;

/**
 * Keys that were current before a rotation: comma-separated base64 keys of exactly 32 bytes each, kept only to
 * read records written with them until `webhookvault keys:rotate` has re-encrypted everything.
 */
const previousKeys = z
  .string()
  .transform((value, ctx) => {
    const keys: Buffer[] = [];
    for (const [index, raw] of value.split(',').entries()) {
      const entry = raw.trim();
      const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(entry)
        ? Buffer.from(entry, entry.includes('-') || entry.includes('_') ? 'base64url' : 'base64')
        : undefined;
      if (key === undefined || key.length !== KEY_BYTES) {
        ctx.addIssue({
          code: 'custom',
          message: `entry ${index + 1} ${key === undefined ? 'is not base64' : `decodes to ${key.length} bytes`}; each entry must be base64 of exactly ${KEY_BYTES} bytes`,
        });
        return z.NEVER;
      }
      keys.push(key);
    }
    return keys;
  })
  .optional()
  .describe(`comma-separated base64 keys of exactly ${KEY_BYTES} bytes each`);

/** Reads a PEM file for the capture listener, or says why it cannot be used; the value stays the path. */
function pemFile(kind: 'certificate' | 'private key') {
  return z
    .string()
    .superRefine((file, ctx) => {
      let pem: Buffer;
      try {
        pem = readFileSync(file);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `cannot be read: ${(error as Error).message}` });
        return;
      }
      try {
        if (kind === 'certificate') new X509Certificate(pem);
        else createPrivateKey(pem);
      } catch (error) {
        ctx.addIssue({
          code: 'custom',
          message: `${file} is not a PEM ${kind}${kind === 'private key' ? ' (unencrypted)' : ''}: ${(error as Error).message}`,
        });
      }
    })
    .describe(`the path of a PEM ${kind} file`);
}

const optionalPort = z
  .string()
  .regex(/^\d{1,5}$/, 'must be a TCP port number')
  .transform(Number)
  .pipe(z.number().int().min(0).max(65535))
  .optional()
  .describe('a TCP port number (0-65535)');

export const configSchema = z
  .object({
    ...serviceConfigShape(4104),
    WEBHOOKVAULT_ENCRYPTION_KEY: env.base64Key(KEY_BYTES),
    WEBHOOKVAULT_PREVIOUS_KEYS: previousKeys,
    CAPTURE_BODY_LIMIT: env.int(25 * 1024 * 1024, { min: 1 }),
    /** The public base of capture URLs (e.g. https://studio.example/webhookvault); defaults to the request's host. */
    WEBHOOKVAULT_PUBLIC_URL: env.url('the public base URL of capture links').optional(),
    RETENTION_INTERVAL_MS: env.int(60_000, { min: 1000 }),
    DELIVERY_POLL_MS: env.int(1000, { min: 10 }),
    /**
     * FULL (default) fsyncs the WAL at every commit: an acknowledged capture survives a power loss. NORMAL
     * fsyncs only at checkpoints: an acknowledged capture still survives a crash or kill -9 of the process, but
     * the last commits before a power loss can be lost; in exchange capture throughput roughly doubles here.
     */
    WEBHOOKVAULT_SQLITE_SYNCHRONOUS: z.enum(['FULL', 'NORMAL']).default('FULL').describe('FULL or NORMAL'),
    /**
     * The public capture listener (src/capture-listener.ts): a second port in the same process that serves only
     * `/h/<token>…`, for senders that must reach the app without a proxy rewriting their header order. Unset: no
     * second listener.
     */
    CAPTURE_PORT: optionalPort,
    /**
     * Its interface. Unset, it is HOST (loopback by default): exposure stays opt-in, as for every studio port;
     * set it to 0.0.0.0 (or the public address) where the capture port is meant to be reached from outside.
     */
    CAPTURE_HOST: env.string('an interface address such as 0.0.0.0').optional(),
    /** Open connections the public capture port accepts at once; past it, a new connection is closed at once. */
    CAPTURE_MAX_CONNECTIONS: env.int(2048, { min: 1, max: 1_000_000 }),
    /** Both or neither: the capture listener then speaks HTTPS. Read at start, and again on SIGHUP. */
    CAPTURE_TLS_CERT_FILE: pemFile('certificate').optional(),
    CAPTURE_TLS_KEY_FILE: pemFile('private key').optional(),
    /**
     * The public base of the capture listener (e.g. https://hooks.example.com). Capture URLs handed out use
     * WEBHOOKVAULT_PUBLIC_URL when it is set, else this, else the request's own host; when this is set, every
     * endpoint also carries `directUrl`, its capture URL on the capture listener.
     */
    WEBHOOKVAULT_CAPTURE_URL: env.url('the public base URL of the capture listener').optional(),
  })
  .superRefine((config, ctx) => {
    const certFile = config.CAPTURE_TLS_CERT_FILE;
    const keyFile = config.CAPTURE_TLS_KEY_FILE;
    if ((certFile === undefined) !== (keyFile === undefined)) {
      const missing = certFile === undefined ? 'CAPTURE_TLS_CERT_FILE' : 'CAPTURE_TLS_KEY_FILE';
      const present = certFile === undefined ? 'CAPTURE_TLS_KEY_FILE' : 'CAPTURE_TLS_CERT_FILE';
      ctx.addIssue({
        code: 'custom',
        path: [missing],
        message: `is required when ${present} is set: the capture listener's certificate and key go together`,
      });
      return;
    }
    for (const variable of ['CAPTURE_HOST', 'CAPTURE_TLS_CERT_FILE'] as const) {
      if (config[variable] !== undefined && config.CAPTURE_PORT === undefined) {
        ctx.addIssue({
          code: 'custom',
          path: [variable],
          message:
            'is set but CAPTURE_PORT is not: it configures the capture listener, which only runs on CAPTURE_PORT',
        });
      }
    }
    if (
      config.CAPTURE_PORT !== undefined &&
      config.CAPTURE_PORT !== 0 &&
      config.CAPTURE_PORT === config.PORT
    ) {
      ctx.addIssue({
        code: 'custom',
        path: ['CAPTURE_PORT'],
        message: `is ${config.CAPTURE_PORT}, the same as PORT: the capture listener needs a port of its own`,
      });
    }
    if (certFile !== undefined && keyFile !== undefined) {
      // A key that does not sign this certificate would fail every TLS handshake. (Zod runs this check even when
      // a file failed above; that failure is already reported under its own variable.)
      let matches: boolean;
      try {
        matches = new X509Certificate(readFileSync(certFile)).checkPrivateKey(
          createPrivateKey(readFileSync(keyFile)),
        );
      } catch {
        return;
      }
      if (!matches) {
        ctx.addIssue({
          code: 'custom',
          path: ['CAPTURE_TLS_KEY_FILE'],
          message: `${keyFile} is not the private key of the certificate in ${certFile} (CAPTURE_TLS_CERT_FILE)`,
        });
      }
    }
  });

export type Config = z.output<typeof configSchema>;

// The process environment is read here and nowhere else; tests pass their own.
export function loadConfig(environment: Record<string, string | undefined> = process.env): Config {
  return parseConfig('webhookvault', configSchema, environment);
}
