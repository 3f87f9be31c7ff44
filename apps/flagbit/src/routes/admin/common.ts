import { AppError, type ServiceInstance } from '@studio/service-kit';
import { accountOf } from '@studio/shared-billing';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';

export const security = [{ bearerAuth: [] }];

/** The account and the actor the audit log names for this admin request. */
export function adminOf(request: FastifyRequest) {
  const account = accountOf(request);
  return { account, accountId: account.id, actor: `key:${request.principal?.keyId ?? 'unknown'}` };
}

export function requireEnvironment(app: ServiceInstance, accountId: string, environment: string) {
  const row = app.flagbit.repository.findEnvironment(accountId, environment);
  if (!row) throw new AppError('not_found', `Environment ${environment} not found`);
  return row;
}

export function requireFlag(app: ServiceInstance, accountId: string, name: string) {
  const flag = app.flagbit.repository.findFlag(accountId, name);
  if (!flag) throw new AppError('not_found', `Flag ${name} not found`);
  return flag;
}

export const environmentParams = z.object({ environment: z.string().min(1).max(100) });

export const constraintOutput = z.object({
  contextName: z.string(),
  operator: z.string(),
  values: z.array(z.string()).optional(),
  value: z.string().optional(),
  inverted: z.boolean().optional(),
  caseInsensitive: z.boolean().optional(),
});

export const variantOutput = z.object({
  name: z.string(),
  weight: z.number(),
  weightType: z.string().optional(),
  stickiness: z.string().optional(),
  payload: z.object({ type: z.string(), value: z.string() }).optional(),
  overrides: z.array(z.object({ contextName: z.string(), values: z.array(z.string()) })).optional(),
});

export const strategyOutput = z.object({
  id: z.string(),
  sortOrder: z.number(),
  name: z.string(),
  parameters: z.record(z.string(), z.unknown()).optional(),
  constraints: z.array(constraintOutput).optional(),
  segments: z.array(z.number()).optional(),
  variants: z.array(variantOutput).optional(),
});

export const segmentOutput = z.object({
  id: z.number(),
  name: z.string(),
  description: z.string(),
  constraints: z.array(constraintOutput),
});
