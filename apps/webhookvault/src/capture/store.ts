import { EventEmitter } from 'node:events';
import { randomId } from '@studio/shared-billing';
import type { Clock } from '../clock';
import { RandomPool } from '../random-pool';
import type { CaptureRow, ForwardingRule, NewCapture, NewDelivery, VaultRepository } from '../repository';
import type { Vault } from '../vault';
import { type CapturedRequest, decodeCapturedRequest, encodeCapturedRequest } from './payload';
import type { Verification } from './signatures';

/** How many attempts a forwarded delivery gets: one per step of the retry schedule. */
export const FORWARD_MAX_ATTEMPTS = 8;

export interface CaptureView {
  id: string;
  endpointId: string;
  method: string;
  path: string;
  query: string;
  headers: [string, string][];
  bodyBase64: string;
  /** The body as text when it is valid UTF-8 without binary control characters; absent otherwise. */
  bodyText?: string;
  size: number;
  remoteAddress: string;
  receivedAt: string;
  verification: Verification;
}

interface Pending {
  capture: NewCapture;
  resolve: (seq: number) => void;
  reject: (error: unknown) => void;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
// Control characters other than tab, newline and carriage return mark a body as binary.
// biome-ignore lint/suspicious/noControlCharactersInRegex: detecting control characters is the point.
const binaryControl = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;

export function textOf(body: Buffer): string | undefined {
  if (body.length === 0) return '';
  try {
    const text = utf8.decode(body);
    return binaryControl.test(text) ? undefined : text;
  } catch {
    return undefined;
  }
}

/**
 * Writes captures with group commit: every capture arriving in the same event-loop turn goes into one
 * BEGIN IMMEDIATE transaction, and each sender is answered only after that transaction committed, so under
 * load one fsync covers many captures (synchronous=FULL stays) and no acknowledged capture is ever lost.
 */
export class CaptureStore {
  /** Emits the endpoint id after captures for it committed; SSE streams read what is new from the database. */
  readonly committed = new EventEmitter();
  private queue: Pending[] = [];
  private scheduled = false;
  private readonly random = new RandomPool();

  constructor(
    private readonly repository: VaultRepository,
    private readonly vault: Vault,
    private readonly clock: Clock,
    private readonly onDeliveriesQueued: (deliveries: NewDelivery[]) => void,
  ) {
    this.committed.setMaxListeners(0);
  }

  record(input: {
    endpointId: string;
    accountId: string;
    method: string;
    request: CapturedRequest;
    verification: Verification;
    receivedMs: number;
  }): Promise<{ id: string; seq: number }> {
    const id = this.random.id('cap');
    const capture: NewCapture = {
      id,
      endpointId: input.endpointId,
      accountId: input.accountId,
      method: input.method,
      size: input.request.body.length,
      receivedMs: input.receivedMs,
      verificationStatus: input.verification.status,
      verificationReason: input.verification.reason ?? null,
      sealed: this.vault.seal(encodeCapturedRequest(input.request), id),
    };
    return new Promise((resolve, reject) => {
      this.queue.push({ capture, resolve: (seq) => resolve({ id, seq }), reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.queue.splice(0);
    if (batch.length === 0) return;
    const nowMs = this.clock.now();
    let result: { seqs: number[]; deliveries: NewDelivery[] };
    try {
      result = this.repository.insertCaptures(
        batch.map((pending) => pending.capture),
        (capture, rules) => rules.map((rule) => forwardDelivery(capture, rule, nowMs)),
      );
    } catch (error) {
      for (const pending of batch) pending.reject(error);
      return;
    }
    for (const [index, pending] of batch.entries()) pending.resolve(result.seqs[index]!);
    for (const endpointId of new Set(batch.map((pending) => pending.capture.endpointId))) {
      this.committed.emit('endpoint', endpointId);
    }
    if (result.deliveries.length > 0) this.onDeliveriesQueued(result.deliveries);
  }

  open(row: CaptureRow): CapturedRequest {
    return decodeCapturedRequest(this.vault.open(row.sealed, row.id));
  }

  view(row: CaptureRow, options: { body: boolean } = { body: true }): CaptureView {
    const request = this.open(row);
    const text = options.body ? textOf(request.body) : undefined;
    return {
      id: row.id,
      endpointId: row.endpointId,
      method: row.method,
      path: request.path,
      query: request.query,
      headers: request.headers,
      bodyBase64: options.body ? request.body.toString('base64') : '',
      ...(text !== undefined ? { bodyText: text } : {}),
      size: row.size,
      remoteAddress: request.remoteAddress,
      receivedAt: new Date(row.receivedMs).toISOString(),
      verification:
        row.verificationReason === null
          ? { status: row.verificationStatus }
          : { status: row.verificationStatus, reason: row.verificationReason },
    };
  }
}

function forwardDelivery(capture: NewCapture, rule: ForwardingRule, nowMs: number): NewDelivery {
  return {
    id: randomId('dlv'),
    accountId: capture.accountId,
    endpointId: capture.endpointId,
    captureId: capture.id,
    ruleId: rule.id,
    kind: 'forward',
    targetUrl: rule.targetUrl,
    preservePath: rule.preservePath,
    maxAttempts: FORWARD_MAX_ATTEMPTS,
    nextAttemptMs: nowMs,
    nowMs,
  };
}
