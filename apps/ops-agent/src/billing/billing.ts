import { AppError } from '@studio/service-kit';
import { planForPrice, Stripe, studioProducts } from '@studio/shared-billing/stripe';
import type { StripeConfig } from '../config';
import type { Ops } from '../ops';
import { enqueueProvision } from '../outbox';
import type { SubscriptionRow } from '../repository';

/**
 * Stripe → plans. Each event is stored in the inbox in the same transaction as its effect, so a duplicate is
 * a no-op and a crash can never leave an effect without its record (or the reverse). Subscriptions are kept
 * as the latest state Stripe told us, ordered by the event's own `created` time and by the lifecycle, never
 * by arrival: webhooks arrive late, twice, and out of order. Entitlement changes go to the products through
 * the durable outbox.
 */

/**
 * Statuses in which a subscription still grants its plan. past_due is Stripe's dunning window (Smart Retries
 * over days): the customer keeps the plan while Stripe retries, and that window is the grace period.
 */
const grantingStatuses = new Set(['active', 'trialing', 'past_due']);
/**
 * Dunning ran out and Stripe left the subscription open with unpaid invoices: the account is suspended in the
 * product (`/suspend`) until an invoice is paid. A canceled subscription is a customer who left: free plan,
 * not suspended.
 */
const suspendingStatuses = new Set(['unpaid']);
/** Stripe never brings these back: a later "updated" for a canceled subscription cannot reactivate it. */
const terminalStatuses = new Set(['canceled', 'incomplete_expired']);
/** Tie-break for two observations in the same second: the later stage of the lifecycle wins. */
const lifecycleRank: Record<string, number> = {
  unknown: -1,
  incomplete: 0,
  trialing: 1,
  active: 2,
  past_due: 3,
  unpaid: 4,
  paused: 4,
  canceled: 5,
  incomplete_expired: 5,
};
const planRank: Record<string, number> = { free: 0, pro: 1, business: 2 };

export interface Observation {
  subscriptionId: string;
  status: string;
  version: number;
  product?: string | null;
  accountId?: string | null;
  priceId?: string | null;
}

/** True when `next` describes a later state of the subscription than `current`. */
export function supersedes(current: SubscriptionRow | undefined, next: Observation): boolean {
  if (!current) return true;
  if (terminalStatuses.has(current.status)) return false;
  if (terminalStatuses.has(next.status)) return true;
  if (next.version !== current.version) return next.version > current.version;
  return (lifecycleRank[next.status] ?? 0) > (lifecycleRank[current.status] ?? 0);
}

type InvoiceOutcome = 'paid' | 'failed';

/** True when the invoice outcome `next`@`version` is later news than the one stored (paid wins a tie). */
export function newerInvoice(
  current: Pick<SubscriptionRow, 'invoiceOutcome' | 'invoiceVersion'> | undefined,
  next: InvoiceOutcome,
  version: number,
): boolean {
  if (!current?.invoiceOutcome || current.invoiceVersion === null) return true;
  if (version !== current.invoiceVersion) return version > current.invoiceVersion;
  return next === 'paid' && current.invoiceOutcome === 'failed';
}

/**
 * The subscription's status, with the latest invoice outcome applied when it is newer than the last
 * subscription event: a failed renewal puts an active subscription past_due, a paid invoice brings a
 * past_due/unpaid one back to active (as Stripe does). So a lost or unsubscribed `customer.subscription.updated`
 * does not leave an account on a plan it stopped paying for, or suspended after it paid. Each input is kept
 * as its own latest value, so the result does not depend on arrival order.
 */
export function effectiveStatus(
  subscription: Pick<SubscriptionRow, 'status' | 'version'> &
    Partial<Pick<SubscriptionRow, 'invoiceOutcome' | 'invoiceVersion'>>,
): string {
  const { status, version, invoiceOutcome, invoiceVersion } = subscription;
  if (
    terminalStatuses.has(status) ||
    !invoiceOutcome ||
    invoiceVersion == null ||
    invoiceVersion <= version
  ) {
    return status;
  }
  if (invoiceOutcome === 'failed' && ['active', 'trialing', 'unknown'].includes(status)) return 'past_due';
  if (invoiceOutcome === 'paid' && ['past_due', 'unpaid', 'incomplete', 'unknown'].includes(status)) {
    return 'active';
  }
  return status;
}

type Granting = Pick<SubscriptionRow, 'status' | 'plan'> &
  Partial<Pick<SubscriptionRow, 'version' | 'invoiceOutcome' | 'invoiceVersion'>>;

function statusOf(subscription: Granting): string {
  return effectiveStatus({ ...subscription, version: subscription.version ?? 0 });
}

export function grantedPlan(subscriptions: Granting[]): string {
  let best = 'free';
  for (const subscription of subscriptions) {
    if (!subscription.plan || !grantingStatuses.has(statusOf(subscription))) continue;
    if ((planRank[subscription.plan] ?? 0) > (planRank[best] ?? 0)) best = subscription.plan;
  }
  return best;
}

/**
 * What a product account is entitled to: the best plan among its granting subscriptions; suspended when none
 * grants anything and one is unpaid (a second, paid subscription keeps the account open).
 */
export function entitlementOf(subscriptions: Granting[]): { plan: string; status: 'active' | 'suspended' } {
  const plan = grantedPlan(subscriptions);
  const granting = subscriptions.some((s) => s.plan && grantingStatuses.has(statusOf(s)));
  const unpaid = subscriptions.some((s) => s.plan && suspendingStatuses.has(statusOf(s)));
  return { plan, status: !granting && unpaid ? 'suspended' : 'active' };
}

type Metadata = Record<string, string> | null | undefined;

/** The invoice fields we read, across API versions (`subscription` moved under `parent` in 2025-03-31). */
interface InvoiceFields {
  id?: string;
  amount_paid?: number;
  amount_due?: number;
  currency?: string | null;
  billing_reason?: string | null;
  subscription?: string | { id: string } | null;
  subscription_details?: { metadata?: Metadata } | null;
  parent?: {
    subscription_details?: { subscription?: string | { id: string } | null; metadata?: Metadata } | null;
  } | null;
}

function idOf(value: string | { id: string } | null | undefined): string | null {
  if (!value) return null;
  return typeof value === 'string' ? value : value.id;
}

export function createBilling(ops: Ops, stripeConfig: StripeConfig | undefined) {
  const { repo, clock } = ops;

  const stripe = stripeConfig
    ? new Stripe(stripeConfig.secretKey, {
        maxNetworkRetries: 1,
        telemetry: false,
        ...(stripeConfig.apiUrl
          ? (() => {
              const url = new URL(stripeConfig.apiUrl);
              return {
                host: url.hostname,
                port: url.port || (url.protocol === 'https:' ? 443 : 80),
                protocol: url.protocol.replace(':', '') as 'http' | 'https',
              };
            })()
          : {}),
      })
    : undefined;

  function require(): { config: StripeConfig; stripe: Stripe } {
    if (!stripeConfig || !stripe) {
      throw new AppError(
        'service_unavailable',
        'Stripe is not configured (set STRIPE_SECRET_KEY, STRIPE_WEBHOOK_SECRET and STRIPE_PRICES)',
      );
    }
    return { config: stripeConfig, stripe };
  }

  /** Applies one observation of a subscription; runs inside the event's transaction. */
  function observe(observation: Observation): string {
    const current = repo.subscription(observation.subscriptionId);
    const product = observation.product ?? current?.product ?? null;
    const accountId = observation.accountId ?? current?.accountId ?? null;
    if (!supersedes(current, observation)) {
      // Older news, but it may still carry who the subscription belongs to (checkout arriving last).
      if (current && (!current.product || !current.accountId) && product && accountId) {
        repo.saveSubscription({ ...current, product, accountId });
        reconcile(product, accountId);
      }
      return `ignored: older than ${current?.status}@${current?.version}`;
    }
    const priceId = observation.priceId ?? current?.priceId ?? null;
    const mapped = priceId && stripeConfig ? planForPrice(stripeConfig.prices, priceId) : undefined;
    const row: SubscriptionRow = {
      id: observation.subscriptionId,
      product: product ?? mapped?.product ?? null,
      accountId,
      priceId,
      plan: mapped?.plan ?? current?.plan ?? null,
      status: observation.status,
      version: observation.version,
      invoiceOutcome: current?.invoiceOutcome ?? null,
      invoiceVersion: current?.invoiceVersion ?? null,
      updatedAt: clock.now().toISOString(),
    };
    repo.saveSubscription(row);
    if (row.product && row.accountId) return reconcile(row.product, row.accountId);
    return `${row.status}; owner not known yet`;
  }

  // Set by reconcile when the current event queued a plan change, so the route only wakes the outbox then.
  let queuedChange = false;

  /** Records an invoice outcome on its subscription (a placeholder row when the invoice comes first). */
  function observeInvoice(input: {
    subscriptionId: string;
    outcome: InvoiceOutcome;
    version: number;
    product: string | null;
    accountId: string | null;
  }): string {
    const current = repo.subscription(input.subscriptionId);
    const product = current?.product ?? input.product;
    const accountId = current?.accountId ?? input.accountId;
    if (!newerInvoice(current, input.outcome, input.version)) {
      return `ignored: older than invoice ${current?.invoiceOutcome}@${current?.invoiceVersion}`;
    }
    repo.saveSubscription({
      id: input.subscriptionId,
      product,
      accountId,
      priceId: current?.priceId ?? null,
      plan: current?.plan ?? null,
      // Not seen yet: the subscription's own events fill in status and plan, whatever order they come in.
      status: current?.status ?? 'unknown',
      version: current?.version ?? 0,
      invoiceOutcome: input.outcome,
      invoiceVersion: input.version,
      updatedAt: clock.now().toISOString(),
    });
    if (product && accountId) return reconcile(product, accountId);
    return `invoice ${input.outcome}; owner not known yet`;
  }

  /** Derives the account's entitlement from all its subscriptions and queues a change for the product. */
  function reconcile(product: string, accountId: string): string {
    const next = entitlementOf(repo.subscriptionsOf(product, accountId));
    const previous = repo.entitlement(product, accountId);
    const label = next.status === 'suspended' ? `${next.plan}, suspended` : next.plan;
    if (previous?.plan === next.plan && previous.status === next.status) {
      return `${product}/${accountId} stays ${label}`;
    }
    const at = clock.now();
    repo.saveEntitlement({ product, accountId, ...next }, at.toISOString());
    enqueueProvision(repo, { product, accountId, ...next }, at, previous?.status ?? 'active');
    queuedChange = true;
    return `${product}/${accountId} → ${label}`;
  }

  function effectOf(event: Stripe.Event): string {
    switch (event.type) {
      case 'checkout.session.completed': {
        const session = event.data.object;
        const subscriptionId = idOf(session.subscription);
        const metadata = session.metadata as Metadata;
        if (!subscriptionId) return 'no subscription on this session';
        if (session.payment_status === 'unpaid')
          return 'session completed unpaid; waiting for the subscription';
        return observe({
          subscriptionId,
          status: 'active',
          version: event.created,
          product: metadata?.product ?? null,
          accountId: session.client_reference_id ?? metadata?.accountId ?? null,
          priceId: metadata?.priceId ?? null,
        });
      }
      case 'customer.subscription.created':
      case 'customer.subscription.updated':
      case 'customer.subscription.deleted': {
        const subscription = event.data.object;
        const metadata = subscription.metadata as Metadata;
        return observe({
          subscriptionId: subscription.id,
          // A deleted subscription's object already says canceled; say it anyway if a test fixture does not.
          status: event.type === 'customer.subscription.deleted' ? 'canceled' : subscription.status,
          version: event.created,
          product: metadata?.product ?? null,
          accountId: metadata?.accountId ?? null,
          priceId: subscription.items?.data?.[0]?.price?.id ?? null,
        });
      }
      case 'invoice.paid':
      case 'invoice.payment_failed': {
        const invoice = event.data.object as InvoiceFields;
        const paid = event.type === 'invoice.paid';
        const label =
          `invoice ${invoice.id} ${paid ? 'paid' : 'payment failed'} (${paid ? invoice.amount_paid : invoice.amount_due} ${invoice.currency ?? ''})`.trim();
        // Newer API versions put the subscription under parent.subscription_details; older ones at the top.
        const details = invoice.parent?.subscription_details;
        const subscriptionId = idOf(details?.subscription ?? invoice.subscription ?? null);
        if (!subscriptionId) return `${label}; no subscription`;
        // A first invoice that fails leaves the subscription incomplete (its own events say so): no dunning.
        if (!paid && invoice.billing_reason === 'subscription_create') return `${label}; first invoice`;
        const metadata = (details?.metadata ?? invoice.subscription_details?.metadata) as Metadata;
        const effect = observeInvoice({
          subscriptionId,
          outcome: paid ? 'paid' : 'failed',
          version: event.created,
          product: metadata?.product ?? null,
          accountId: metadata?.accountId ?? null,
        });
        return `${label}: ${effect}`;
      }
      default:
        return 'not handled';
    }
  }

  return {
    configured: stripeConfig !== undefined,
    webhookSecret: () => require().config.webhookSecret,

    /** Inbox + effect in one transaction. Returns false for a duplicate (already processed). */
    handleEvent(event: Stripe.Event): { duplicate: boolean; summary: string; queuedChange: boolean } {
      queuedChange = false;
      return repo.transaction(() => {
        // The inbox row goes first: if it already exists the event is a duplicate and nothing else runs.
        const fresh = repo.recordStripeEvent(
          event.id,
          event.type,
          event.created,
          clock.now().toISOString(),
          '',
        );
        if (!fresh) return { duplicate: true, summary: 'duplicate', queuedChange: false };
        const summary = effectOf(event);
        repo.setStripeEventSummary(event.id, summary);
        return { duplicate: false, summary, queuedChange };
      })();
    },

    async createCheckout(input: {
      product: string;
      plan: string;
      accountId: string;
      successUrl: string;
      cancelUrl: string;
    }): Promise<{ id: string; url: string | null }> {
      const { config, stripe: client } = require();
      const priceId = Object.entries(config.prices).find(
        ([, target]) => target.product === input.product && target.plan === input.plan,
      )?.[0];
      if (!priceId) {
        throw new AppError('bad_request', `No price in STRIPE_PRICES sells ${input.product} ${input.plan}`);
      }
      if (!(studioProducts as readonly string[]).includes(input.product)) {
        throw new AppError('bad_request', `Unknown product ${input.product}`);
      }
      const session = await client.checkout.sessions.create({
        mode: 'subscription',
        line_items: [{ price: priceId, quantity: 1 }],
        client_reference_id: input.accountId,
        metadata: { product: input.product, plan: input.plan, accountId: input.accountId, priceId },
        subscription_data: { metadata: { product: input.product, accountId: input.accountId } },
        success_url: input.successUrl,
        cancel_url: input.cancelUrl,
      });
      return { id: session.id, url: session.url };
    },
  };
}

export type Billing = ReturnType<typeof createBilling>;
