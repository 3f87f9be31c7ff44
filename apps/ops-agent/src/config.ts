import { ConfigError, env, parseConfig, serviceConfigShape } from '@studio/service-kit';
import { type PriceMap, parsePriceMap } from '@studio/shared-billing/stripe';
import { z } from 'zod';
import { parseAuditRules } from './audit/rules';
import { parsePasswordHash } from './owner/password';

/**
 * The ops-agent's variables. Names are fixed by the issue so tools can rely on them. Every integration is
 * optional: unset means "not configured" (reported as such, never as a failure); set to an empty string is a
 * start-up error naming the variable (the compose-file lesson); half of an integration (a URL without its
 * key) is a start-up error naming the missing half.
 */
const optionalUrl = (description: string) => env.url(description).optional();
const optionalSecret = (description: string) => env.string(description).optional();

export const configSchema = z.object({
  ...serviceConfigShape(4100),
  OPS_ADMIN_TOKEN: env.token(32),
  OPS_VAULT_KEY: env.base64Key(32),
  OWNER_PASSWORD_HASH: env
    .string('scrypt$N$r$p$<salt base64>$<64-byte key base64> (print one with: ops-agent hash-password)')
    .transform((value, ctx) => {
      try {
        return parsePasswordHash(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    })
    .optional(),

  STRIPE_SECRET_KEY: optionalSecret('a Stripe secret key (sk_…)'),
  STRIPE_WEBHOOK_SECRET: optionalSecret('a Stripe webhook signing secret (whsec_…)'),
  STRIPE_API_URL: optionalUrl('the base URL of the Stripe API (tests point it at a local server)'),
  STRIPE_PRICES: env
    .string('JSON {"price_…": {"product": "cronping", "plan": "pro"}, …}')
    .transform((value, ctx) => {
      try {
        return parsePriceMap(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message.replace(/^STRIPE_PRICES /, '') });
        return z.NEVER;
      }
    })
    .optional(),

  DOCUMINT_URL: optionalUrl('the base URL of DocuMint, e.g. http://127.0.0.1:4101'),
  CRONPING_URL: optionalUrl('the base URL of CronPing, e.g. http://127.0.0.1:4102'),
  FLAGBIT_URL: optionalUrl('the base URL of FlagBit, e.g. http://127.0.0.1:4103'),
  WEBHOOKVAULT_URL: optionalUrl('the base URL of WebhookVault, e.g. http://127.0.0.1:4104'),
  SERVICE_PID_DIR: env
    .string('the directory where npm start writes one <name>.pid per service process, e.g. <repo>/data/run')
    .optional(),
  CADDY_URL: optionalUrl('the base URL of Caddy in front of the products, e.g. http://127.0.0.1:8080'),

  GHOST_URL: optionalUrl('the base URL of the Ghost blog'),
  GHOST_ADMIN_API_KEY: env
    .string('a Ghost Admin API key <id>:<hex secret>')
    .regex(/^[0-9a-f]+:[0-9a-f]+$/i, 'must be a Ghost Admin API key <id>:<hex secret>')
    .optional(),
  DEVTO_URL: env.url('the Forem API base including /api').default('https://dev.to/api'),
  DEVTO_API_KEY: optionalSecret('a Dev.to API key'),
  LISTMONK_URL: optionalUrl('the base URL of Listmonk'),
  LISTMONK_USER: optionalSecret('a Listmonk API user name'),
  LISTMONK_TOKEN: optionalSecret('a Listmonk API token'),
  LISTMONK_LIST_IDS: z
    .string()
    .regex(/^\d+(,\d+)*$/, 'must be comma-separated list ids')
    .transform((value) => value.split(',').map(Number))
    .default([1])
    .describe('comma-separated Listmonk list ids that campaigns go to'),
  PLAUSIBLE_URL: optionalUrl('the base URL of Plausible'),
  PLAUSIBLE_API_KEY: optionalSecret('a Plausible Stats API key'),
  PLAUSIBLE_SITE_ID: optionalSecret('the Plausible site id (domain) of the blog'),
  HEARTBEAT_URL: optionalUrl('a CronPing ping URL the agent calls every audit'),

  ALERT_WEBHOOK_URL: optionalUrl('a URL that receives signed incident alerts'),
  ALERT_WEBHOOK_SECRET: env
    .string('a Standard Webhooks secret whsec_<base64>')
    .regex(/^whsec_[A-Za-z0-9+/=]+$/, 'must be whsec_<base64>')
    .optional(),

  SMTP_URL: env
    .string('an smtp:// or smtps:// URL, e.g. smtp://user:pass@mail.example.com:587')
    .regex(/^smtps?:\/\/.+/, 'must be an smtp:// or smtps:// URL')
    .optional(),
  ALERT_EMAIL_TO: env.string('comma-separated addresses that receive incident alerts').optional(),
  ALERT_EMAIL_FROM: env
    .string('the From address of alert emails')
    .default('ops-agent <ops-agent@studio.invalid>'),

  AUDIT_INTERVAL_SECONDS: env.int(30, { min: 1 }),
  AUDIT_FAILURE_THRESHOLD: env.int(2, { min: 1, max: 100 }),
  AUDIT_RECOVERY_THRESHOLD: env.int(2, { min: 1, max: 100 }),
  AUDIT_SLOW_MS: env.int(2000, { min: 1 }),
  AUDIT_TIMEOUT_MS: env.int(5000, { min: 100 }),
  AUDIT_RULES: env
    .string(
      'a JSON list of rules on health-report fields, e.g. [{"field":"checks.sqlite:writeRate.0.observedValue","max":150,"status":"warn"}]',
    )
    .transform((value, ctx) => {
      try {
        return parseAuditRules(value);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: (error as Error).message });
        return z.NEVER;
      }
    })
    .default([]),
  AUDIT_RETENTION_DAYS: env.int(30, { min: 30, max: 3650 }),
  CYCLES_PER_DAY: env.int(8, { min: 1, max: 1440 }),
  SCHEDULER: env.boolean(true),
  SESSION_TTL_HOURS: env.int(12, { min: 1 }),
});

export type Config = z.output<typeof configSchema>;

/**
 * Variables that only make sense together: one set without the others is a start-up error. The tokens the
 * owner can store from the page instead (`storableTokens`) may be left unset when the rest of their group is
 * set; set on their own, without their URL, they are still an error.
 */
const storableVariables = new Set<keyof Config>([
  'GHOST_ADMIN_API_KEY',
  'DEVTO_API_KEY',
  'LISTMONK_TOKEN',
  'PLAUSIBLE_API_KEY',
]);
const integrationGroups: Array<{ name: string; variables: (keyof Config)[] }> = [
  { name: 'Stripe', variables: ['STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET', 'STRIPE_PRICES'] },
  { name: 'Ghost', variables: ['GHOST_URL', 'GHOST_ADMIN_API_KEY'] },
  { name: 'Listmonk', variables: ['LISTMONK_URL', 'LISTMONK_USER', 'LISTMONK_TOKEN'] },
  { name: 'Plausible', variables: ['PLAUSIBLE_URL', 'PLAUSIBLE_API_KEY', 'PLAUSIBLE_SITE_ID'] },
  { name: 'alert webhook', variables: ['ALERT_WEBHOOK_URL', 'ALERT_WEBHOOK_SECRET'] },
  { name: 'alert email', variables: ['SMTP_URL', 'ALERT_EMAIL_TO'] },
];

// The process environment is read here and nowhere else; tests pass their own.
export function loadConfig(environment: Record<string, string | undefined> = process.env): Config {
  const config = parseConfig('ops-agent', configSchema, environment);
  const issues = [];
  for (const group of integrationGroups) {
    const set = group.variables.filter((variable) => config[variable] !== undefined);
    if (set.length === 0 || set.length === group.variables.length) continue;
    const missing = group.variables.filter((v) => !set.includes(v));
    const onlyStorableMissing = missing.every((v) => storableVariables.has(v));
    const onlyStorableSet = set.every((v) => storableVariables.has(v));
    if (onlyStorableMissing && !onlyStorableSet) continue;
    for (const variable of missing.filter((v) => onlyStorableSet || !storableVariables.has(v))) {
      issues.push({
        variable,
        message: `is required because ${set.join(', ')} ${set.length === 1 ? 'is' : 'are'} set (${group.name} needs ${group.variables.join(', ')}); set it or unset the others`,
      });
    }
  }
  if (config.DISK_WARN_PERCENT > config.DISK_FAIL_PERCENT) {
    issues.push({ variable: 'DISK_WARN_PERCENT', message: 'must not exceed DISK_FAIL_PERCENT' });
  }
  if (issues.length > 0) throw new ConfigError('ops-agent', issues);
  return config;
}

export const productNames = ['documint', 'cronping', 'flagbit', 'webhookvault'] as const;
export type ProductName = (typeof productNames)[number];

/** The products the agent audits and provisions: only the configured ones. */
export function configuredProducts(config: Config): Array<{ name: ProductName; url: string }> {
  const urls: Record<ProductName, string | undefined> = {
    documint: config.DOCUMINT_URL,
    cronping: config.CRONPING_URL,
    flagbit: config.FLAGBIT_URL,
    webhookvault: config.WEBHOOKVAULT_URL,
  };
  return productNames.flatMap((name) => {
    const url = urls[name];
    return url ? [{ name, url }] : [];
  });
}

export type StripeConfig = { secretKey: string; webhookSecret: string; apiUrl?: string; prices: PriceMap };

export function stripeConfig(config: Config): StripeConfig | undefined {
  if (!config.STRIPE_SECRET_KEY || !config.STRIPE_WEBHOOK_SECRET || !config.STRIPE_PRICES) return undefined;
  return {
    secretKey: config.STRIPE_SECRET_KEY,
    webhookSecret: config.STRIPE_WEBHOOK_SECRET,
    apiUrl: config.STRIPE_API_URL,
    prices: config.STRIPE_PRICES,
  };
}

/**
 * Which integrations are configured, for the page and the audit report ("not configured" is not a failure).
 * `hasToken` says whether a storable token is available (environment or stored on the page).
 */
export function integrationStatus(
  config: Config,
  hasToken: (
    name: 'GHOST_ADMIN_API_KEY' | 'DEVTO_API_KEY' | 'LISTMONK_TOKEN' | 'PLAUSIBLE_API_KEY',
  ) => boolean = (name) => config[name] !== undefined,
): Record<string, 'configured' | 'not configured'> {
  const state = (ok: boolean) => (ok ? 'configured' : 'not configured');
  return {
    stripe: state(stripeConfig(config) !== undefined),
    ghost: state(config.GHOST_URL !== undefined && hasToken('GHOST_ADMIN_API_KEY')),
    devto: state(hasToken('DEVTO_API_KEY')),
    listmonk: state(config.LISTMONK_URL !== undefined && hasToken('LISTMONK_TOKEN')),
    plausible: state(config.PLAUSIBLE_URL !== undefined && hasToken('PLAUSIBLE_API_KEY')),
    heartbeat: state(config.HEARTBEAT_URL !== undefined),
    caddy: state(config.CADDY_URL !== undefined),
    servicePids: state(config.SERVICE_PID_DIR !== undefined),
    alertWebhook: state(config.ALERT_WEBHOOK_URL !== undefined),
    alertEmail: state(config.SMTP_URL !== undefined),
    ownerLogin: state(config.OWNER_PASSWORD_HASH !== undefined),
  };
}
