import { createHash } from 'node:crypto';
import { AppError } from '@studio/service-kit';
import { type OutboundClient, sendSignedWebhook } from '@studio/service-kit/outbound';
import type { Account, Billing } from '@studio/shared-billing';
import type { FastifyBaseLogger } from 'fastify';
import type { Engine, OutputFormat, Renderer, ResolvedTemplate } from './rendering/renderer';
import { type DocumentRecord, type DocumintRepository, newId } from './repository';
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
  /** Scheduled callback attempts, each with the function that settles its tracked promise. */
  private readonly timers = new Map<NodeJS.Timeout, () => void>();
  private readonly inFlight = new Set<Promise<unknown>>();
  private readonly waiting: (() => void)[] = [];
  private running = 0;
  private closed = false;

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
        this.finishFailed(document, (error as Error).message);
      }
    }
    return resumed;
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

  /** Stops scheduling: waiting retries are dropped, renders and attempts under way finish. */
  async close(): Promise<void> {
    this.closed = true;
    for (const [timer, settle] of this.timers) {
      clearTimeout(timer);
      settle();
    }
    this.timers.clear();
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
        let finished: DocumentRecord;
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
          this.options.repository.finishDocument(update);
          finished = { ...document, ...update, pendingRequest: null };
        } catch (error) {
          const message =
            error instanceof AppError && error.statusCode < 500 ? error.message : 'rendering failed';
          if (!(error instanceof AppError) || error.statusCode >= 500) {
            this.options.log.error({ err: error, documentId: document.id }, 'async render failed');
          }
          finished = this.finishFailed(document, message);
        } finally {
          this.releaseSlot();
        }
        if (finished.callbackUrl) this.deliver(account, finished, pending.baseUrl, 0, undefined);
      })(),
    );
  }

  private finishFailed(document: DocumentRecord, message: string): DocumentRecord {
    const update = {
      id: document.id,
      status: 'failed' as const,
      pages: null,
      bytes: null,
      sha256: null,
      error: message,
      completedAt: this.options.now().toISOString(),
    };
    this.options.repository.finishDocument(update);
    return { ...document, ...update, pendingRequest: null };
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
   * Standard Webhooks delivery through the SSRF-guarded client. A retry keeps the first attempt's
   * webhook-id (receivers dedupe on it) and is signed afresh (receivers refuse old timestamps).
   */
  private deliver(
    account: Account,
    document: DocumentRecord,
    baseUrl: string,
    attempt: number,
    messageId: string | undefined,
  ) {
    const delay = this.options.callbackDelaysMs[attempt];
    if (delay === undefined || this.closed || !document.callbackUrl) return;
    this.track(
      new Promise<void>((settle) => {
        const timer = setTimeout(() => {
          this.timers.delete(timer);
          void this.attempt(account, document, baseUrl, attempt, messageId).finally(settle);
        }, delay);
        timer.unref();
        this.timers.set(timer, settle);
      }),
    );
  }

  private async attempt(
    account: Account,
    document: DocumentRecord,
    baseUrl: string,
    attempt: number,
    messageId: string | undefined,
  ): Promise<void> {
    // The secret is read at delivery time: a rotation between attempts signs with the new secret.
    const current = this.options.billing.repository.findAccount(account.id) ?? account;
    const result = await sendSignedWebhook({
      client: this.options.outbound,
      url: document.callbackUrl!,
      secret: current.webhookSecret,
      payload: this.callbackPayload(document, baseUrl),
      ...(messageId ? { messageId } : {}),
      timestamp: this.options.now(),
      timeoutMs: this.options.callbackTimeoutMs,
    });
    try {
      this.options.repository.recordAttempt({
        documentId: document.id,
        attempt: attempt + 1,
        messageId: result.messageId,
        status: result.status,
        ok: result.ok ? 1 : 0,
        error: result.error ?? null,
        attemptedAt: this.options.now().toISOString(),
      });
    } catch {
      return; // the document was deleted meanwhile: nothing left to announce.
    }
    if (!result.ok) this.deliver(account, document, baseUrl, attempt + 1, result.messageId);
  }
}
