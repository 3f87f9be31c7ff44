import type { OutboundClient } from '@studio/service-kit/outbound';
import type { FastifyBaseLogger } from 'fastify';
import { type CaptureStore, FORWARD_MAX_ATTEMPTS } from '../capture/store';
import type { Clock } from '../clock';
import type { AttemptOutcome, DeliveryRow, DeliveryStatus, VaultRepository } from '../repository';
import { sendCaptured, targetUrlFor } from './send';

/**
 * Waits after a failed attempt n (1-based): attempt 1 is immediate, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h,
 * 10 h, each ±20 % so that many deliveries failing together do not retry together.
 */
export const RETRY_DELAYS_MS = [5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000];
const JITTER = 0.2;
// A Retry-After larger than the longest step is capped so one answer cannot park a delivery for weeks.
const MAX_RETRY_AFTER_MS = 36_000_000;

export interface DeliveryWorkerOptions {
  repository: VaultRepository;
  store: CaptureStore;
  client: OutboundClient;
  clock: Clock;
  log: FastifyBaseLogger;
  pollMs: number;
  timeoutMs?: number;
  concurrency?: number;
  /** In [0, 1); 0.5 means no jitter. Injected in tests. */
  random?: () => number;
}

export function retryDelayMs(failedAttempt: number, random: () => number): number | null {
  const base = RETRY_DELAYS_MS[failedAttempt - 1];
  if (base === undefined) return null;
  return Math.round(base * (1 - JITTER + 2 * JITTER * random()));
}

/**
 * Delivers the outbox: deliveries are rows written in the same transaction as their capture, so a crash at
 * any point leaves them `pending` and the next start sends them (at-least-once; receivers dedupe if needed).
 */
export class DeliveryWorker {
  private readonly inFlight = new Map<string, Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  private kicked = false;
  private running: Promise<number> | null = null;
  private stopped = false;
  private readonly random: () => number;
  private pendingOutcomes: {
    outcome: AttemptOutcome;
    resolve: () => void;
    reject: (error: unknown) => void;
  }[] = [];
  private flushScheduled = false;

  constructor(private readonly options: DeliveryWorkerOptions) {
    this.random = options.random ?? Math.random;
  }

  start(): void {
    this.timer = setInterval(() => this.kick(), this.options.pollMs);
    this.timer.unref();
    this.kick();
  }

  /** Asks for a pass over due deliveries soon (after new captures were queued). */
  kick(): void {
    if (this.kicked || this.stopped) return;
    this.kicked = true;
    setImmediate(() => {
      this.kicked = false;
      this.runDue().catch((error: unknown) => this.options.log.error({ err: error }, 'delivery pass failed'));
    });
  }

  /**
   * One pass over due deliveries at a time: a call made while a pass runs waits for it and then makes its own,
   * so a caller (a test, a kick after new captures) always sees everything due at its call handled.
   */
  async runDue(): Promise<number> {
    while (this.running) await this.running;
    if (this.stopped) return 0;
    this.running = this.pass();
    try {
      return await this.running;
    } finally {
      this.running = null;
    }
  }

  private async pass(): Promise<number> {
    await Promise.all(this.inFlight.values());
    const concurrency = this.options.concurrency ?? 16;
    const due = this.options.repository
      .dueDeliveries(this.options.clock.now(), 500)
      .filter((delivery) => !this.inFlight.has(delivery.id));
    let index = 0;
    const lane = async () => {
      while (index < due.length) {
        const delivery = due[index++]!;
        await this.track(delivery.id, () => this.attempt(delivery.id));
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, due.length) }, lane));
    return due.length;
  }

  /** Attempts one delivery now (a replay answers with its first attempt's outcome). */
  async deliverNow(id: string): Promise<void> {
    await this.track(id, () => this.attempt(id));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await Promise.all(this.inFlight.values());
  }

  private async track(id: string, work: () => Promise<void>): Promise<void> {
    const existing = this.inFlight.get(id);
    if (existing) return existing;
    const promise = work()
      .catch((error: unknown) =>
        this.options.log.error({ err: error, deliveryId: id }, 'delivery attempt failed'),
      )
      .finally(() => this.inFlight.delete(id));
    this.inFlight.set(id, promise);
    return promise;
  }

  private async attempt(deliveryId: string): Promise<void> {
    const { repository, store, clock, client } = this.options;
    // Read afresh: the row a pass selected may have been attempted since (by a replay, or a retry request).
    const delivery = repository.findDeliveryById(deliveryId);
    if (delivery === null || delivery.status !== 'pending' || (delivery.nextAttemptMs ?? 0) > clock.now())
      return;
    const capture = repository.findCaptureById(delivery.captureId);
    if (capture === null) return; // deleted meanwhile: its deliveries went with it
    if (delivery.ruleId !== null) {
      const rule = repository.findRule(delivery.accountId, delivery.ruleId);
      if (rule !== null && !rule.enabled) {
        await this.record(delivery, clock.now(), {
          statusCode: null,
          durationMs: 0,
          error: `forwarding rule disabled: ${rule.disabledReason ?? 'disabled'}`,
          status: 'dead',
        });
        return;
      }
    }
    const request = store.open(capture);
    const startedMs = clock.now();
    const result = await sendCaptured(
      client,
      {
        url: targetUrlFor(delivery.targetUrl, delivery.preservePath, request.path, request.query),
        method: capture.method,
        headers: request.headers,
        body: request.body,
        timeoutMs: this.options.timeoutMs ?? 10_000,
      },
      startedMs,
    );
    const attempt = delivery.attempts + 1;
    const ok = result.statusCode !== null && result.statusCode >= 200 && result.statusCode < 300;
    if (ok) {
      await this.record(delivery, startedMs, { ...result, status: 'succeeded' });
      return;
    }
    if (result.statusCode === 410 && delivery.ruleId !== null) {
      await this.record(delivery, startedMs, {
        ...result,
        error: 'receiver answered 410 Gone; the forwarding rule is disabled',
        status: 'failed',
        disableRule: {
          ruleId: delivery.ruleId,
          reason: `receiver answered 410 Gone for delivery ${delivery.id}`,
        },
      });
      return;
    }
    // A dead letter put back by a retry gets a fresh round: its schedule restarts at the first step.
    const attemptInRound = attempt - Math.max(0, delivery.maxAttempts - FORWARD_MAX_ATTEMPTS);
    const scheduled = attempt < delivery.maxAttempts ? retryDelayMs(attemptInRound, this.random) : null;
    if (scheduled === null) {
      await this.record(delivery, startedMs, { ...result, status: 'dead' });
      return;
    }
    const waitMs =
      result.retryAfterMs !== null ? Math.min(result.retryAfterMs, MAX_RETRY_AFTER_MS) : scheduled;
    await this.record(delivery, startedMs, {
      ...result,
      status: 'pending',
      nextAttemptMs: startedMs + waitMs,
    });
  }

  private record(
    delivery: DeliveryRow,
    startedMs: number,
    outcome: {
      statusCode: number | null;
      durationMs: number;
      error: string | null;
      status: DeliveryStatus;
      nextAttemptMs?: number;
      disableRule?: AttemptOutcome['disableRule'];
    },
  ): Promise<void> {
    return this.enqueueOutcome({
      deliveryId: delivery.id,
      attempt: delivery.attempts + 1,
      startedMs,
      durationMs: outcome.durationMs,
      statusCode: outcome.statusCode,
      error: outcome.error,
      status: outcome.status,
      nextAttemptMs: outcome.nextAttemptMs ?? null,
      nowMs: this.options.clock.now(),
      ...(outcome.disableRule ? { disableRule: outcome.disableRule } : {}),
    });
  }

  /**
   * Attempt records are group-committed like captures: every outcome finished in the same event-loop turn is
   * written in one transaction, and the attempt counts as done (leaves `inFlight`) only once it is written.
   */
  private enqueueOutcome(outcome: AttemptOutcome): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pendingOutcomes.push({ outcome, resolve, reject });
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      setImmediate(() => {
        this.flushScheduled = false;
        const batch = this.pendingOutcomes.splice(0);
        try {
          this.options.repository.recordAttempts(batch.map((entry) => entry.outcome));
          for (const entry of batch) entry.resolve();
        } catch (error) {
          for (const entry of batch) entry.reject(error);
        }
      });
    });
  }
}
