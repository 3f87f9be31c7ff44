import { type OutboundClient, sendSignedWebhook } from '@studio/service-kit/outbound';
import type { StudioDatabase } from '@studio/shared-db';
import type { FastifyBaseLogger } from 'fastify';
import type { Transporter } from 'nodemailer';
import type { Clock } from '../clock';
import type { CronpingRepository, Notification } from '../repository';
import type { AlertPayload } from './transitions';

export interface AlertDispatcherOptions {
  database: StudioDatabase;
  repository: CronpingRepository;
  clock: Clock;
  log: FastifyBaseLogger;
  /** The SSRF-guarded client: every customer URL goes through it. */
  outbound: OutboundClient;
  webhookSecretOf(accountId: string): string | null;
  /** null when no SMTP server is configured: email alerts then fail with a clear error. */
  mailer: Transporter | null;
  mailFrom: string;
  maxAttempts: number;
  retryBaseMs: number;
  timeoutMs: number;
}

interface DeliveryOutcome {
  ok: boolean;
  error?: string;
  /** A failure no retry can fix (no SMTP server configured, the account is gone). */
  permanent?: boolean;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

function summary(payload: AlertPayload): string {
  const { data } = payload;
  const name = data.name || data.uuid;
  return data.status === 'down'
    ? `🔴 "${name}" is DOWN (${data.reason}). Last ping: ${data.last_ping ?? 'never'}.`
    : `🟢 "${name}" is UP again. Last ping: ${data.last_ping ?? 'never'}.`;
}

/**
 * Delivers the alert outbox: webhooks signed with the account's secret (Standard Webhooks), Slack-compatible
 * incoming webhooks, and email. A failed attempt is retried with exponential backoff (base × 2^attempt)
 * up to `maxAttempts`, keeping its webhook-id so the receiver can deduplicate.
 */
export function createAlertDispatcher(options: AlertDispatcherOptions) {
  const { repository, clock } = options;
  let running: Promise<number> | null = null;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  let stopped = true;

  const record = options.database.transaction(
    (results: { notification: Notification; outcome: DeliveryOutcome }[], now: number) => {
      for (const { notification, outcome } of results) {
        if (outcome.ok) repository.markDelivered(notification.id);
        else if (outcome.permanent || notification.attempts + 1 >= options.maxAttempts) {
          repository.markFailed(notification.id, outcome.error ?? 'failed');
        } else {
          const delay = options.retryBaseMs * 2 ** notification.attempts;
          repository.markRetry(notification.id, now + delay, outcome.error ?? 'failed');
        }
      }
    },
  );

  const deliver = async (notification: Notification): Promise<DeliveryOutcome> => {
    const payload = JSON.parse(notification.payload) as AlertPayload;
    try {
      if (notification.kind === 'webhook') {
        const secret = options.webhookSecretOf(notification.accountId);
        if (!secret) return { ok: false, error: 'account not found', permanent: true };
        const result = await sendSignedWebhook({
          client: options.outbound,
          url: notification.target,
          secret,
          payload,
          messageId: notification.messageId,
          timestamp: new Date(clock.now()),
          timeoutMs: options.timeoutMs,
        });
        return result.ok ? { ok: true } : { ok: false, error: result.error ?? `status ${result.status}` };
      }
      if (notification.kind === 'slack') {
        const response = await options.outbound.request(notification.target, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ text: summary(payload) }),
          timeoutMs: options.timeoutMs,
        });
        return response.status >= 200 && response.status < 300
          ? { ok: true }
          : { ok: false, error: `receiver answered ${response.status}` };
      }
      if (!options.mailer)
        return { ok: false, error: 'no SMTP server configured (SMTP_URL)', permanent: true };
      await options.mailer.sendMail({
        from: options.mailFrom,
        to: notification.target,
        subject: `${payload.data.status === 'down' ? 'DOWN' : 'UP'} | ${payload.data.name || payload.data.uuid}`,
        text: `${summary(payload)}\n\nCheck: ${payload.data.uuid}\n`,
      });
      return { ok: true };
    } catch (error) {
      return { ok: false, error: (error as Error).message.slice(0, 300) };
    }
  };

  const arm = () => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = undefined;
    const next = repository.nextNotificationDue();
    if (next === null) return;
    const delay = Math.min(Math.max(0, next - clock.now()), MAX_TIMER_MS);
    timer = setTimeout(() => {
      timer = undefined;
      void runDue().catch((error) => options.log.error({ err: error }, 'alert delivery failed'));
    }, delay);
    timer.unref();
  };

  const loop = async (): Promise<number> => {
    let delivered = 0;
    do {
      again = false;
      for (;;) {
        const due = repository.dueNotifications(clock.now(), 50);
        if (due.length === 0) break;
        const outcomes = await Promise.all(due.map(deliver));
        const results = due.map((notification, index) => ({ notification, outcome: outcomes[index]! }));
        record(results, clock.now());
        for (const { notification, outcome } of results) {
          if (outcome.ok) delivered += 1;
          else
            options.log.warn({ notification: notification.id, error: outcome.error }, 'alert attempt failed');
        }
      }
    } while (again);
    return delivered;
  };

  /** Delivers every notification due now; resolves with how many were delivered. */
  const runDue = (): Promise<number> => {
    if (running) {
      again = true;
      return running;
    }
    running = loop().finally(() => {
      running = null;
      arm();
    });
    return running;
  };

  return {
    start() {
      stopped = false;
      arm();
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
    /** New alerts were queued: deliver them now. */
    kick() {
      if (stopped) return;
      void runDue().catch((error) => options.log.error({ err: error }, 'alert delivery failed'));
    },
    runDue,
    /** Resolves once the delivery in progress (if any) finished. */
    async idle() {
      while (running) await running;
    },
  };
}

export type AlertDispatcher = ReturnType<typeof createAlertDispatcher>;
