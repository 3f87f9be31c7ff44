import {
  createOutboundClient,
  type OutboundClient,
  parseOutboundAllowlist,
} from '@studio/service-kit/outbound';
import nodemailer from 'nodemailer';
import type { Config } from './config';

/**
 * Every request the agent makes (products' internal contract, heartbeat, alerts, Ghost, Dev.to, Listmonk,
 * Plausible) goes through the studio's SSRF guard. The hosts of the URLs the operator configured are
 * admitted on top of OUTBOUND_ALLOWLIST: the products live on 127.0.0.1 by design, and an operator who sets
 * CRONPING_URL has already said the agent may reach it. Anything else private stays refused, and redirects
 * are never followed.
 */
export function configuredHosts(config: Config): string[] {
  const urls = [
    config.DOCUMINT_URL,
    config.CRONPING_URL,
    config.FLAGBIT_URL,
    config.WEBHOOKVAULT_URL,
    config.CADDY_URL,
    config.GHOST_URL,
    config.DEVTO_URL,
    config.LISTMONK_URL,
    config.PLAUSIBLE_URL,
    config.HEARTBEAT_URL,
    config.ALERT_WEBHOOK_URL,
  ];
  const hosts = new Set<string>();
  for (const url of urls) {
    if (!url) continue;
    const hostname = new URL(url).hostname;
    hosts.add(hostname.startsWith('[') ? hostname.slice(1, -1) : hostname);
  }
  return [...hosts];
}

export function createAgentOutbound(config: Config): OutboundClient {
  const entries = [
    ...(config.OUTBOUND_ALLOWLIST ? [config.OUTBOUND_ALLOWLIST] : []),
    ...configuredHosts(config),
  ];
  return createOutboundClient({
    allowlist: parseOutboundAllowlist(entries.length > 0 ? entries.join(',') : undefined),
    timeoutMs: config.AUDIT_TIMEOUT_MS,
  });
}

/** JSON over the guarded client; a non-JSON or empty body comes back as `json: undefined`, never a throw. */
export async function requestJson(
  client: OutboundClient,
  url: string,
  options: {
    method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
    headers?: Record<string, string>;
    body?: unknown;
  } = {},
): Promise<{ status: number; json: unknown; text: string }> {
  const response = await client.request(url, {
    method: options.method ?? 'GET',
    headers: {
      accept: 'application/json',
      ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = response.body.toString('utf8');
  let json: unknown;
  try {
    json = text.trim() === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, json, text };
}

/** Error text safe for logs and the page: cut, and never the request's headers. */
export function describeError(error: unknown, max = 300): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.length > max ? `${message.slice(0, max)}…` : message;
}

/**
 * Incident emails over SMTP (nodemailer). The SMTP host is the operator's own configuration, so it is not
 * behind the HTTP SSRF guard; the message carries no secret.
 */
export function createAlertMailer(config: Config) {
  if (!config.SMTP_URL || !config.ALERT_EMAIL_TO) return undefined;
  const transport = nodemailer.createTransport(config.SMTP_URL);
  const to = config.ALERT_EMAIL_TO;
  return {
    async send(message: { subject: string; text: string }) {
      await transport.sendMail({
        from: config.ALERT_EMAIL_FROM,
        to,
        subject: message.subject,
        text: message.text,
      });
    },
    close() {
      transport.close();
    },
  };
}
