import { Stripe } from '@studio/shared-billing/stripe';

export const WEBHOOK_SECRET = 'whsec_test_ops_agent_secret';
export const PRICES = {
  price_cronpingPro: { product: 'cronping', plan: 'pro' },
  price_cronpingBusiness: { product: 'cronping', plan: 'business' },
  price_flagbitPro: { product: 'flagbit', plan: 'pro' },
} as const;

export const stripeEnv = (overrides: Record<string, string> = {}) => ({
  STRIPE_SECRET_KEY: 'sk_test_ops_agent',
  STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
  STRIPE_PRICES: JSON.stringify(PRICES),
  ...overrides,
});

let counter = 0;
export function eventId(): string {
  counter += 1;
  return `evt_${counter.toString(36).padStart(8, '0')}${Math.random().toString(36).slice(2, 8)}`;
}

export function subscriptionEvent(input: {
  type: 'customer.subscription.created' | 'customer.subscription.updated' | 'customer.subscription.deleted';
  subscriptionId: string;
  status: string;
  created: number;
  priceId: string;
  product: string;
  accountId: string;
  id?: string;
}) {
  return {
    id: input.id ?? eventId(),
    object: 'event',
    type: input.type,
    created: input.created,
    livemode: false,
    api_version: '2025-01-27.acacia',
    data: {
      object: {
        id: input.subscriptionId,
        object: 'subscription',
        status: input.status,
        customer: 'cus_test',
        metadata: { product: input.product, accountId: input.accountId },
        items: { object: 'list', data: [{ id: `si_${input.subscriptionId}`, price: { id: input.priceId } }] },
      },
    },
  };
}

export function checkoutCompletedEvent(input: {
  subscriptionId: string;
  created: number;
  product: string;
  plan: string;
  accountId: string;
  priceId: string;
}) {
  return {
    id: eventId(),
    object: 'event',
    type: 'checkout.session.completed',
    created: input.created,
    data: {
      object: {
        id: `cs_${input.subscriptionId}`,
        object: 'checkout.session',
        mode: 'subscription',
        payment_status: 'paid',
        status: 'complete',
        client_reference_id: input.accountId,
        subscription: input.subscriptionId,
        metadata: {
          product: input.product,
          plan: input.plan,
          accountId: input.accountId,
          priceId: input.priceId,
        },
      },
    },
  };
}

/**
 * `invoice.paid` / `invoice.payment_failed` in the current API shape: the subscription and its metadata under
 * `parent.subscription_details`.
 */
export function invoiceEvent(input: {
  type: 'invoice.paid' | 'invoice.payment_failed';
  subscriptionId: string;
  created: number;
  product: string;
  accountId: string;
  billingReason?: string;
  id?: string;
}) {
  return {
    id: input.id ?? eventId(),
    object: 'event',
    type: input.type,
    created: input.created,
    livemode: false,
    api_version: '2025-01-27.acacia',
    data: {
      object: {
        id: `in_${input.subscriptionId}_${input.created}`,
        object: 'invoice',
        amount_due: 900,
        amount_paid: input.type === 'invoice.paid' ? 900 : 0,
        currency: 'usd',
        billing_reason: input.billingReason ?? 'subscription_cycle',
        parent: {
          type: 'subscription_details',
          subscription_details: {
            subscription: input.subscriptionId,
            metadata: { product: input.product, accountId: input.accountId },
          },
        },
      },
    },
  };
}

/** Signs with the real `stripe` package's test signer, at the given Unix time. */
export function signed(event: object, timestamp: number, secret = WEBHOOK_SECRET) {
  const payload = JSON.stringify(event);
  return {
    payload,
    headers: {
      'content-type': 'application/json',
      'stripe-signature': Stripe.webhooks.generateTestHeaderString({ payload, secret, timestamp }),
    },
  };
}
