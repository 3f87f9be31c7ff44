export * from './api-keys';
export * from './migrations';
export * from './plans';
export {
  type AuthenticateOptions,
  accountOf,
  type Billing,
  type BillingPluginOptions,
  bearerToken,
  default as billingPlugin,
  type Principal,
} from './plugin';
export { rateLimitedError, rateLimitedResponse } from './rate-limit';
export * from './repository';
export { accountResponseSchema, emailSchema } from './routes/account';
