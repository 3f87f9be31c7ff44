import { type OutboundClient, sendSignedWebhook } from '@studio/service-kit/outbound';
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from './clock';
import { type Config, configuredProducts } from './config';
import { newId } from './ids';
import { describeError, requestJson } from './outbound';
import type { OutboxRow, Repository } from './repository';

/**
 * The durable outbox. A row is written in the same transaction as the decision that needs it (a plan change
 * from a Stripe event, an incident opening), and delivered afterwards, again and again with backoff, until
 * the receiver accepts it. A product that is down when a payment arrives gets its plan when it comes back.
 */

export interface ProvisionPayload {
  product: string;
  accountId: string;
  plan: string;
  /** Absent on rows written before dunning existed: those only set the plan. */
  status?: 'active' | 'suspended';
  /**
   * Set when the account may be suspended in the product (we told it so, or a pending row was about to):
   * only then does delivery call `/resume`, so billing never lifts a suspension an operator made by hand.
   */
  resume?: boolean;
}

export interface AlertPayload {
  messageId: string;
  /** Absent on rows written before email existed: those are webhooks. */
  channel?: 'webhook' | 'email';
  type: 'incident.opened' | 'incident.resolved';
  incident: {
    id: string;
    product: string;
    status: string;
    openedAt: string;
    resolvedAt: string | null;
    reason: string;
  };
}

const MAX_BACKOFF_MS = 10 * 60 * 1000;

export function backoffMs(attempts: number): number {
  return Math.min(5000 * 2 ** Math.min(attempts, 20), MAX_BACKOFF_MS);
}

export function enqueueProvision(
  repo: Repository,
  payload: ProvisionPayload,
  at: Date,
  previousStatus: 'active' | 'suspended' = 'active',
) {
  // One pending plan change per account and product: a newer one replaces an undelivered older one, so a
  // late delivery can never put back a plan the account no longer has.
  const dedupeKey = `provision:${payload.product}:${payload.accountId}`;
  let row = payload;
  if (payload.status !== 'suspended') {
    // A replaced row may have been the suspension (or the resume) the product still has to hear about.
    const pending = repo.pendingByKey(dedupeKey);
    const replaced = pending ? (JSON.parse(pending.payload) as ProvisionPayload) : undefined;
    const resume =
      previousStatus === 'suspended' || replaced?.status === 'suspended' || replaced?.resume === true;
    row = { ...payload, status: 'active', ...(resume ? { resume: true } : {}) };
  }
  repo.enqueue({ id: newId('obx'), kind: 'provision', dedupeKey, payload: row, at: at.toISOString() });
}

/** One outbox row per configured alert channel, so a dead mail server does not hold up the webhook. */
export function enqueueAlert(
  repo: Repository,
  config: Config,
  payload: Omit<AlertPayload, 'messageId' | 'channel'>,
  at: Date,
) {
  const channels: Array<'webhook' | 'email'> = [
    ...(config.ALERT_WEBHOOK_URL ? (['webhook'] as const) : []),
    ...(config.SMTP_URL && config.ALERT_EMAIL_TO ? (['email'] as const) : []),
  ];
  for (const channel of channels) {
    const id = newId('obx');
    repo.enqueue({
      id,
      kind: 'alert',
      dedupeKey: null,
      payload: { ...payload, channel, messageId: `msg_${id}` },
      at: at.toISOString(),
    });
  }
}

export function alertText(payload: AlertPayload): { subject: string; text: string } {
  const { incident } = payload;
  const opened = payload.type === 'incident.opened';
  return {
    subject: `[ops-agent] ${incident.product} ${opened ? 'is down' : 'recovered'}`,
    text: [
      `${incident.product}: incident ${incident.id} ${opened ? 'opened' : 'resolved'}.`,
      `Opened at: ${incident.openedAt}`,
      ...(incident.resolvedAt ? [`Resolved at: ${incident.resolvedAt}`] : []),
      `Reason: ${incident.reason}`,
    ].join('\n'),
  };
}

export interface OutboxDeps {
  config: Config;
  repo: Repository;
  clock: Clock;
  outbound: OutboundClient;
  log: FastifyBaseLogger;
  /** Sends one email; present when SMTP_URL and ALERT_EMAIL_TO are set. */
  sendEmail?: (message: { subject: string; text: string }) => Promise<void>;
}

export interface OutboxRunResult {
  delivered: number;
  failed: number;
  pending: number;
}

async function deliver(deps: OutboxDeps, row: OutboxRow): Promise<void> {
  const { config } = deps;
  if (row.kind === 'provision') {
    const payload = JSON.parse(row.payload) as ProvisionPayload;
    const product = configuredProducts(config).find((p) => p.name === payload.product);
    if (!product)
      throw new Error(`${payload.product} is not configured (set ${payload.product.toUpperCase()}_URL)`);
    const account = `${product.url}/internal/accounts/${encodeURIComponent(payload.accountId)}`;
    const headers = { authorization: `Bearer ${config.INTERNAL_TOKEN}` };
    // Plan first, then the account's status: both calls are idempotent, so a row that fails half-way is
    // simply sent again whole.
    const calls: Array<{ method: 'PUT' | 'POST'; url: string; body?: unknown }> = [
      { method: 'PUT', url: `${account}/plan`, body: { plan: payload.plan } },
      ...(payload.status === 'suspended' ? [{ method: 'POST' as const, url: `${account}/suspend` }] : []),
      ...(payload.status !== 'suspended' && payload.resume
        ? [{ method: 'POST' as const, url: `${account}/resume` }]
        : []),
    ];
    for (const call of calls) {
      const response = await requestJson(deps.outbound, call.url, {
        method: call.method,
        headers,
        ...(call.body === undefined ? {} : { body: call.body }),
      });
      if (response.status !== 200) {
        throw new Error(`${payload.product} answered ${response.status}: ${response.text.slice(0, 200)}`);
      }
    }
    return;
  }
  const payload = JSON.parse(row.payload) as AlertPayload;
  if (payload.channel === 'email') {
    if (!deps.sendEmail) throw new Error('alert email not configured (set SMTP_URL and ALERT_EMAIL_TO)');
    await deps.sendEmail(alertText(payload));
    return;
  }
  if (!config.ALERT_WEBHOOK_URL || !config.ALERT_WEBHOOK_SECRET)
    throw new Error('alert webhook not configured');
  const { messageId, ...body } = payload;
  const result = await sendSignedWebhook({
    client: deps.outbound,
    url: config.ALERT_WEBHOOK_URL,
    secret: config.ALERT_WEBHOOK_SECRET,
    payload: body,
    messageId,
    timestamp: deps.clock.now(),
  });
  if (!result.ok) throw new Error(result.error ?? `receiver answered ${result.status}`);
}

/** Delivers what is due now. One failing receiver does not hold up the others. */
export async function runOutbox(deps: OutboxDeps, limit = 100): Promise<OutboxRunResult> {
  const { repo, clock } = deps;
  const due = repo.dueOutbox(clock.now().toISOString(), limit);
  let delivered = 0;
  let failed = 0;
  for (const row of due) {
    try {
      await deliver(deps, row);
      repo.transaction(() => repo.markDelivered(row, clock.now().toISOString()))();
      delivered += 1;
    } catch (error) {
      const message = describeError(error);
      const next = new Date(clock.now().getTime() + backoffMs(row.attempts));
      repo.transaction(() => repo.markFailed(row, message, next.toISOString()))();
      deps.log.warn(
        { outboxId: row.id, kind: row.kind, attempts: row.attempts + 1 },
        `outbox delivery failed: ${message}`,
      );
      failed += 1;
    }
  }
  return { delivered, failed, pending: repo.pendingOutbox().length };
}
