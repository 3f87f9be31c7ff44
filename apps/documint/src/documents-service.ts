import { createHash } from 'node:crypto';
import { AppError } from '@studio/service-kit';
import { newMessageId, type OutboundClient, sendSignedWebhook } from '@studio/service-kit/outbound';
import type { Account, Billing } from '@studio/shared-billing';
import type { FastifyBaseLogger } from 'fastify';
import type { Engine, OutputFormat, Renderer, ResolvedTemplate } from './rendering/renderer';
import { type DocumentRecord, type DocumintRepository, newId, type OutboxEntry } from './repository';
import type { UrlSigner } from './signed-urls';
import type { AssetStorage, DocumentStorage } from './storage';
import { builtins, isBuiltinName } from './templates/builtins';

export interface DocumentRequest {
  template: string;
  version?: number;
  data: unknown;
  format?: OutputFormat;
  engine?: Engine;
  callbackUrl?: string;
}

export interface Resolved {
  template: ResolvedTemplate;
  /** What the document records: the built-in's name or the template id. */
  label: string;
  version: number | null;
  engine: Engine;
  format: OutputFormat;
}

export interface DocumentServiceOptions {
  repository: DocumintRepository;
  storage: DocumentStorage;
  assets: AssetStorage;
  renderer: Renderer;
  billing: Billing;
  signer: UrlSigner;
  outbound: OutboundClient;
  now: () => Date;
  log: FastifyBaseLogger;
  /** Delay before each callback attempt: the first is immediate, the rest are retries. */
  callbackDelaysMs: number[];
  callbackTimeoutMs: number;
  /** How often the delivery loop looks for callbacks whose retry is due. */
  callbackPollIntervalMs: number;
  /** Async documents rendering at once; the rest wait their turn. */
  asyncConcurrency: number;
}

interface PendingRequest {
  data: unknown;
  baseUrl: string;
}

/** How long the link in a callback stays valid: long enough for a receiver that is down for a while. */
const CALLBACK_LINK_SECONDS = 24 * 3600;

export class DocumentService {
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly waiting: (() => void)[] = [];
  private running = 0;
  private closed = false;
  /** The delivery pass under way, if any: one at a time, so no callback is attempted twice at once. */
  private delivering: Promise<void> | null = null;
  private deliverAgain = false;
  private pollTimer: NodeJS.Timeout | undefined;

  constructor(private readonly options: DocumentServiceOptions) {}

  /** A built-in name or one of the account's template ids; an explicit version may be a draft. */
  resolve(account: Account, request: DocumentRequest): Resolved {
    const format = request.format ?? 'pdf';
    if (isBuiltinName(request.template)) {
      if (request.version !== undefined) {
        throw new AppError('unprocessable', 'built-in templates have no versions', [
          { path: '/version', message: 'omit it for a built-in template' },
        ]);
      }
      const template: ResolvedTemplate = { kind: 'builtin', builtin: builtins[request.template] };
      const engine = this.options.renderer.engineFor(template, request.engine);
      return { template, label: request.template, version: null, engine, format };
    }
    const record = this.options.repository.findTemplate(request.template, account.id);
    if (!record) throw new AppError('not_found', `template ${request.template} not found`);
    const version =
      request.version === undefined
        ? this.options.repository.latestPublished(record.id)
        : this.options.repository.findVersion(record.id, request.version);
    if (!version) {
      throw request.version === undefined
        ? new AppError(
            'unprocessable',
            `template ${record.id} has no published version; publish one or pass "version"`,
            [{ path: '/version', message: 'required while no version is published' }],
          )
        : new AppError('not_found', `version ${request.version} of template ${record.id} not found`);
    }
    const template: ResolvedTemplate = {
      kind: 'custom',
      templateId: record.id,
      version: version.version,
      engine: record.engine,
      source: version.source,
      schema: version.schema,
    };
    const engine = this.options.renderer.engineFor(template, request.engine);
    return { template, label: record.id, version: version.version, engine, format };
  }

  /** Validates, counts against the plan, renders and stores; the caller gets the PDF at once. */
  /**
   * Replaces every `"asset:<id>"` string in the data with the account's uploaded image as a data URI, so
   * schemas and engines see an ordinary image. An unknown id (or another account's) is a 422 naming where.
   */
  async withAssets(accountId: string, data: unknown): Promise<unknown> {
    const problems: { path: string; message: string }[] = [];
    const walk = async (value: unknown, pointer: string): Promise<unknown> => {
      if (typeof value === 'string') {
        const match = /^asset:(ast_[A-Za-z0-9_-]{1,64})$/.exec(value);
        if (!match?.[1]) return value;
        const asset = this.options.repository.findAsset(match[1], accountId);
        if (!asset) {
          problems.push({ path: `/data${pointer}`, message: `asset ${match[1]} not found` });
          return value;
        }
        const bytes = await this.options.assets.read(accountId, asset.id);
        return `data:${asset.contentType};base64,${bytes.toString('base64')}`;
      }
      if (Array.isArray(value))
        return Promise.all(value.map((item, index) => walk(item, `${pointer}/${index}`)));
      if (typeof value === 'object' && value !== null) {
        const entries = await Promise.all(
          Object.entries(value).map(
            async ([key, item]) =>
              [
                key,
                await walk(item, `${pointer}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`),
              ] as const,
          ),
        );
        return Object.fromEntries(entries);
      }
      return value;
    };
    const resolved = await walk(data, '');
    if (problems.length > 0)
      throw new AppError('unprocessable', 'The data names assets that do not exist', problems);
    return resolved;
  }

  async createNow(
    account: Account,
    original: DocumentRequest,
  ): Promise<{ document: DocumentRecord; pdf: Buffer }> {
    const request = { ...original, data: await this.withAssets(account.id, original.data) };
    const resolved = this.resolve(account, request);
    this.options.renderer.validate(resolved.template, request.data, resolved.format, resolved.engine);
    this.options.billing.consumeMonthly(account, 'rendersPerMonth');
    const rendered = await this.options.renderer.render(
      resolved.template,
      request.data,
      resolved.format,
      resolved.engine,
    );
    const document = this.record(account.id, resolved, request.callbackUrl ?? null, null);
    await this.options.storage.write(account.id, document.id, rendered.pdf);
    const stored: DocumentRecord = {
      ...document,
      status: 'succeeded',
      pages: rendered.pages,
      bytes: rendered.pdf.length,
      sha256: createHash('sha256').update(rendered.pdf).digest('hex'),
      completedAt: this.options.now().toISOString(),
    };
    try {
      this.options.repository.saveDocument(stored);
    } catch (error) {
      await this.options.storage.remove(account.id, document.id);
      throw error;
    }
    return { document: stored, pdf: rendered.pdf };
  }

  /** Renders page 1 only to show it: nothing is stored. */
  async renderForPreview(account: Account, original: DocumentRequest): Promise<Buffer> {
    const request = { ...original, data: await this.withAssets(account.id, original.data) };
    const resolved = this.resolve(account, request);
    this.options.renderer.validate(resolved.template, request.data, resolved.format, resolved.engine);
    this.options.billing.consumeMonthly(account, 'rendersPerMonth');
    const rendered = await this.options.renderer.render(
      resolved.template,
      request.data,
      'pdf',
      resolved.engine,
    );
    return rendered.pdf;
  }

  /** Validates and counts now (so bad data is a 422 at once), then renders in the background. */
  async enqueue(account: Account, original: DocumentRequest, baseUrl: string): Promise<DocumentRecord> {
    const request = { ...original, data: await this.withAssets(account.id, original.data) };
    const resolved = this.resolve(account, request);
    this.options.renderer.validate(resolved.template, request.data, resolved.format, resolved.engine);
    this.options.billing.consumeMonthly(account, 'rendersPerMonth');
    const pending: PendingRequest = { data: request.data, baseUrl };
    const document = this.record(account.id, resolved, request.callbackUrl ?? null, JSON.stringify(pending));
    this.options.repository.saveDocument(document);
    this.schedule(account, document, resolved, pending);
    return document;
  }

  /** Documents still queued when the last process stopped are rendered again. */
  resumeQueued(findAccount: (id: string) => Account | null): number {
    let resumed = 0;
    for (const document of this.options.repository.queuedDocuments()) {
      const account = findAccount(document.accountId);
      if (!account || !document.pendingRequest) continue;
      const pending = JSON.parse(document.pendingRequest) as PendingRequest;
      try {
        const resolved = this.resolve(account, {
          template: document.template,
          ...(document.templateVersion !== null ? { version: document.templateVersion } : {}),
          data: pending.data,
          format: document.format,
          engine: document.engine,
        });
        this.schedule(account, document, resolved, pending);
        resumed += 1;
      } catch (error) {
        this.finishFailed(document, (error as Error).message, pending.baseUrl);
      }
    }
    return resumed;
  }

  /**
   * Starts the callback delivery loop: callbacks left in the outbox by the last process (a retry that was
   * waiting, or one never attempted) go out now if due, and every `callbackPollIntervalMs` after.
   */
  startDelivery(): void {
    if (this.closed || this.pollTimer) return;
    this.pollTimer = setInterval(() => void this.deliverDue(), this.options.callbackPollIntervalMs);
    this.pollTimer.unref();
    void this.deliverDue();
  }

  /** Attempts every callback due now; returns when none is left due. Safe to call any time. */
  deliverDue(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.delivering) {
      this.deliverAgain = true;
      return this.delivering;
    }
    this.delivering = this.track(
      (async () => {
        // Yield first: a pass with nothing due would otherwise finish (and clear `delivering`) before
        // `delivering` is even assigned.
        await Promise.resolve();
        try {
          do {
            this.deliverAgain = false;
            while (!this.closed) {
              const due = this.options.repository.dueCallbacks(this.options.now().toISOString(), 16);
              if (due.length === 0) break;
              const recorded = await Promise.all(due.map((entry) => this.attempt(entry)));
              // A database that refuses to record would make the same rows due forever: wait for the poll.
              if (recorded.includes(false)) return;
            }
          } while (this.deliverAgain && !this.closed);
        } finally {
          this.delivering = null;
        }
      })(),
    );
    return this.delivering;
  }

  async delete(accountId: string, documentId: string): Promise<boolean> {
    const document = this.options.repository.findDocument(documentId, accountId);
    if (!document) return false;
    this.options.repository.removeDocument(documentId, accountId);
    await this.options.storage.remove(accountId, documentId);
    return true;
  }

  /**
   * Deletes documents older than their account's plan keeps them (`retentionDays`), in batches so one sweep
   * never holds the write lock for long. Returns how many were deleted.
   */
  async sweepExpired(retentionDaysFor: (plan: string) => number | undefined): Promise<number> {
    let deleted = 0;
    for (const { account_id: accountId, plan } of this.options.repository.accountsWithDocuments()) {
      const days = retentionDaysFor(plan);
      if (days === undefined) continue;
      const cutoff = new Date(this.options.now().getTime() - days * 86_400_000).toISOString();
      for (;;) {
        const batch = this.options.repository.expiredDocuments(accountId, cutoff, 200);
        for (const document of batch) {
          if (await this.delete(accountId, document.id)) deleted += 1;
        }
        if (batch.length < 200) break;
      }
    }
    return deleted;
  }

  /** Resolves once every background render and callback attempt scheduled so far has settled (tests). */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  /**
   * Stops scheduling: renders and attempts under way finish and are recorded; waiting retries stay in the
   * outbox for the next process.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    await Promise.allSettled([...this.inFlight]);
  }

  private record(
    accountId: string,
    resolved: Resolved,
    callbackUrl: string | null,
    pendingRequest: string | null,
  ): DocumentRecord {
    return {
      id: newId('doc'),
      accountId,
      template: resolved.label,
      templateVersion: resolved.version,
      engine: resolved.engine,
      format: resolved.format,
      status: 'queued',
      pages: null,
      bytes: null,
      sha256: null,
      error: null,
      callbackUrl,
      pendingRequest,
      createdAt: this.options.now().toISOString(),
      completedAt: null,
    };
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.inFlight.add(promise);
    void promise.finally(() => this.inFlight.delete(promise)).catch(() => undefined);
    return promise;
  }

  private async slot(): Promise<void> {
    if (this.running < this.options.asyncConcurrency) {
      this.running += 1;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.running += 1;
  }

  private releaseSlot() {
    this.running -= 1;
    this.waiting.shift()?.();
  }

  private schedule(account: Account, document: DocumentRecord, resolved: Resolved, pending: PendingRequest) {
    this.track(
      (async () => {
        await this.slot();
        try {
          if (this.closed) return;
          const rendered = await this.options.renderer.render(
            resolved.template,
            pending.data,
            resolved.format,
            resolved.engine,
          );
          await this.options.storage.write(account.id, document.id, rendered.pdf);
          const update = {
            id: document.id,
            status: 'succeeded' as const,
            pages: rendered.pages,
            bytes: rendered.pdf.length,
            sha256: createHash('sha256').update(rendered.pdf).digest('hex'),
            error: null,
            completedAt: this.options.now().toISOString(),
          };
          const finished = { ...document, ...update, pendingRequest: null };
          this.options.repository.finishDocument(update, this.outboxEntry(finished, pending.baseUrl));
        } catch (error) {
          const message =
            error instanceof AppError && error.statusCode < 500 ? error.message : 'rendering failed';
          if (!(error instanceof AppError) || error.statusCode >= 500) {
            this.options.log.error({ err: error, documentId: document.id }, 'async render failed');
          }
          this.finishFailed(document, message, pending.baseUrl);
        } finally {
          this.releaseSlot();
        }
        if (document.callbackUrl) void this.deliverDue();
      })(),
    );
  }

  private finishFailed(document: DocumentRecord, message: string, baseUrl: string): DocumentRecord {
    const update = {
      id: document.id,
      status: 'failed' as const,
      pages: null,
      bytes: null,
      sha256: null,
      error: message,
      completedAt: this.options.now().toISOString(),
    };
    const finished = { ...document, ...update, pendingRequest: null };
    this.options.repository.finishDocument(update, this.outboxEntry(finished, baseUrl));
    return finished;
  }

  /** The callback to queue with a finished document, or nothing when it has no callback URL. */
  private outboxEntry(document: DocumentRecord, baseUrl: string): Omit<OutboxEntry, 'attempts'> | undefined {
    if (!document.callbackUrl) return undefined;
    return {
      documentId: document.id,
      accountId: document.accountId,
      url: document.callbackUrl,
      messageId: newMessageId(),
      payload: JSON.stringify(this.callbackPayload(document, baseUrl)),
      nextAttemptAt: this.afterDelay(0) ?? this.options.now().toISOString(),
    };
  }

  /** When attempt number `index` (0 = the first) is due, or undefined when retries are exhausted. */
  private afterDelay(index: number): string | undefined {
    const delay = this.options.callbackDelaysMs[index];
    if (delay === undefined) return undefined;
    return new Date(this.options.now().getTime() + delay).toISOString();
  }

  callbackPayload(document: DocumentRecord, baseUrl: string) {
    const expires = Math.floor(this.options.now().getTime() / 1000) + CALLBACK_LINK_SECONDS;
    return {
      type: document.status === 'succeeded' ? 'document.succeeded' : 'document.failed',
      timestamp: this.options.now().toISOString(),
      data: {
        id: document.id,
        status: document.status,
        template: document.template,
        version: document.templateVersion,
        engine: document.engine,
        format: document.format,
        pages: document.pages,
        bytes: document.bytes,
        ...(document.status === 'succeeded'
          ? {
              url: `${baseUrl}${this.options.signer.path(document.id, expires)}`,
              expiresAt: new Date(expires * 1000).toISOString(),
            }
          : { error: document.error }),
      },
    };
  }

  /**
   * One Standard Webhooks delivery through the SSRF-guarded client. Every attempt sends the outbox row's
   * message with its webhook-id (receivers dedupe on it), signed afresh (receivers refuse old timestamps)
   * with the account's current secret (a rotation between attempts signs with the new one). Returns false
   * when the attempt could not be recorded.
   */
  private async attempt(entry: OutboxEntry): Promise<boolean> {
    const account = this.options.billing.repository.findAccount(entry.accountId);
    const attempt = entry.attempts + 1;
    const result = account
      ? await sendSignedWebhook({
          client: this.options.outbound,
          url: entry.url,
          secret: account.webhookSecret,
          payload: JSON.parse(entry.payload) as object,
          messageId: entry.messageId,
          timestamp: this.options.now(),
          timeoutMs: this.options.callbackTimeoutMs,
        })
      : { messageId: entry.messageId, status: null, ok: false, error: 'the account no longer exists' };
    const retryAt = result.ok || !account ? undefined : this.afterDelay(attempt);
    const state = result.ok ? 'delivered' : retryAt === undefined ? 'exhausted' : 'pending';
    const attemptedAt = this.options.now().toISOString();
    try {
      this.options.repository.recordAttempt(
        {
          documentId: entry.documentId,
          attempt,
          messageId: result.messageId,
          status: result.status,
          ok: result.ok ? 1 : 0,
          error: result.error ?? null,
          attemptedAt,
        },
        { state, nextAttemptAt: retryAt ?? attemptedAt },
      );
    } catch (error) {
      // The document was deleted meanwhile (its outbox row went with it): nothing left to announce.
      if (!this.options.repository.findDocumentById(entry.documentId)) return true;
      this.options.log.error({ err: error, documentId: entry.documentId }, 'could not record a callback');
      return false;
    }
    if (state === 'exhausted') {
      this.options.log.warn(
        { documentId: entry.documentId, attempts: attempt, error: result.error },
        'callback not delivered; retries exhausted',
      );
    }
    return true;
  }
}
