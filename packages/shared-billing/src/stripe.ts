import Stripe from 'stripe';
import { z } from 'zod';
import { type PlanName, planNameSchema } from './plans';

export const studioProducts = ['documint', 'cronping', 'flagbit', 'webhookvault'] as const;
export type StudioProduct = (typeof studioProducts)[number];

/** `STRIPE_PRICES`: which product and plan each Stripe price buys. */
export const priceMapSchema = z
  .record(
    z.string().regex(/^price_[A-Za-z0-9]+$/, 'keys must be Stripe price ids (price_…)'),
    z.object({ product: z.enum(studioProducts), plan: planNameSchema }).strict(),
  )
  .refine((map) => Object.keys(map).length > 0, 'must map at least one price');

export type PriceMap = z.infer<typeof priceMapSchema>;

/** Parses the JSON text of STRIPE_PRICES; errors name the variable and the offending price. */
export function parsePriceMap(json: string, variable = 'STRIPE_PRICES'): PriceMap {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    throw new Error(`${variable} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = priceMapSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((i) => {
        // zod reports a bad record key as "Invalid key in record" with the key's own issues nested inside.
        const message =
          i.code === 'invalid_key' && i.issues.length > 0
            ? i.issues.map((inner) => inner.message).join(', ')
            : i.message;
        return `${i.path.join('.') || '(root)'}: ${message}`;
      })
      .join('; ');
    throw new Error(`${variable} is invalid: ${problems}`);
  }
  return parsed.data;
}

export function planForPrice(
  prices: PriceMap,
  priceId: string,
): { product: StudioProduct; plan: PlanName } | undefined {
  // Own keys only: a price id such as `constructor` must not find Object.prototype's members.
  return Object.hasOwn(prices, priceId) ? prices[priceId] : undefined;
}

export class StripeSignatureError extends Error {
  override readonly name = 'StripeSignatureError';
  readonly code = 'stripe_signature_invalid';
}

/**
 * Verifies a Stripe webhook over the exact bytes received (a re-serialised JSON body never matches) with
 * the `stripe` package's own verifier, and returns the event.
 */
export function verifyStripeWebhook(options: {
  rawBody: Buffer | string;
  signatureHeader: string | string[] | undefined;
  secret: string;
  toleranceSeconds?: number;
  /** When the webhook arrived, for the age check; defaults to now (tests inject a clock). */
  now?: Date;
}): Stripe.Event {
  const header = options.signatureHeader;
  if (!header || Array.isArray(header)) {
    throw new StripeSignatureError('missing or repeated Stripe-Signature header');
  }
  try {
    return Stripe.webhooks.constructEvent(
      options.rawBody,
      header,
      options.secret,
      options.toleranceSeconds,
      undefined,
      options.now?.getTime(),
    );
  } catch (error) {
    throw new StripeSignatureError(`Stripe signature check failed: ${(error as Error).message}`);
  }
}

export { Stripe };
