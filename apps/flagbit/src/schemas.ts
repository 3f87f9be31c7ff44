import semver from 'semver';
import { z } from 'zod';
import { compileRegex, isKnownOperator, isValidCidr, operators } from './evaluation/constraints';
import { knownStrategies } from './evaluation/engine';
import type { ClientFeatures, Constraint, StrategyDefinition } from './evaluation/types';

/**
 * Two levels of validation. The client-features schema is what an import must satisfy: the document's shape
 * (types, required fields). Values the Unleash SDKs tolerate at evaluation — an unknown operator, a regex that
 * does not compile — pass it and come back as warnings. The authoring schemas are what the admin API takes:
 * there the same values are refused, because a person typing a flag wants to hear about the typo.
 */

// ---- client-features (import) ----------------------------------------------------------------------------

const parameterValue = z.union([z.string(), z.number(), z.boolean(), z.null()]);

export const importedConstraintSchema = z.object({
  contextName: z.string(),
  operator: z.string(),
  values: z.array(z.string()).optional(),
  value: z.string().optional(),
  inverted: z.boolean().optional(),
  caseInsensitive: z.boolean().optional(),
});

const payloadSchema = z.object({ type: z.string(), value: z.string() });
const overrideSchema = z.object({ contextName: z.string(), values: z.array(z.string()) });

export const importedVariantSchema = z.object({
  name: z.string().min(1),
  weight: z.number().int().min(0),
  weightType: z.string().optional(),
  stickiness: z.string().optional(),
  payload: payloadSchema.optional(),
  overrides: z.array(overrideSchema).optional(),
});

export const importedStrategySchema = z.object({
  name: z.string().min(1),
  /** Unleash admin exports can carry disabled strategies; Unleash never serves them to SDKs. */
  disabled: z.boolean().nullable().optional(),
  parameters: z.record(z.string(), parameterValue).optional(),
  constraints: z.array(importedConstraintSchema).optional(),
  segments: z.array(z.number().int()).optional(),
  variants: z.array(importedVariantSchema).optional(),
});

const dependencySchema = z.object({
  feature: z.string().min(1),
  enabled: z.boolean().optional(),
  variants: z.array(z.string()).optional(),
});

export const importedFeatureSchema = z.object({
  name: z.string().min(1).max(255),
  enabled: z.boolean(),
  strategies: z.array(importedStrategySchema),
  variants: z.array(importedVariantSchema).nullable().optional(),
  dependencies: z.array(dependencySchema).optional(),
  type: z.string().optional(),
  description: z.string().nullable().optional(),
  project: z.string().optional(),
  stale: z.boolean().optional(),
  impressionData: z.boolean().optional(),
});

export const importedSegmentSchema = z.object({
  id: z.number().int(),
  name: z.string().optional(),
  constraints: z.array(importedConstraintSchema),
});

export const clientFeaturesSchema = z
  .object({
    version: z.number().int(),
    features: z.array(importedFeatureSchema),
    segments: z.array(importedSegmentSchema).optional(),
  })
  .superRefine((document, ctx) => {
    const names = new Set<string>();
    document.features.forEach((feature, index) => {
      if (names.has(feature.name)) {
        ctx.addIssue({
          code: 'custom',
          path: ['features', index, 'name'],
          message: `duplicate flag ${feature.name}`,
        });
      }
      names.add(feature.name);
    });
    const ids = new Set<number>();
    (document.segments ?? []).forEach((segment, index) => {
      if (ids.has(segment.id)) {
        ctx.addIssue({
          code: 'custom',
          path: ['segments', index, 'id'],
          message: `duplicate segment ${segment.id}`,
        });
      }
      ids.add(segment.id);
    });
  });

/**
 * The document as it is served: disabled strategies removed, since an Unleash server never sends them to an
 * SDK and evaluating them would turn on what the author switched off. `importWarnings` names each one.
 */
const isDisabled = (strategy: object) => (strategy as { disabled?: unknown }).disabled === true;

export function withoutDisabledStrategies(document: ClientFeatures): ClientFeatures {
  return {
    ...document,
    features: document.features.map((feature) => ({
      ...feature,
      strategies: feature.strategies
        .filter((strategy) => !isDisabled(strategy))
        .map((strategy) => {
          const { disabled: _disabled, ...served } = strategy as typeof strategy & { disabled?: unknown };
          return served;
        }),
    })),
  };
}

/** The document's values that evaluate, but not as someone probably meant: named, never refused. */
export function importWarnings(document: ClientFeatures): { path: string; message: string }[] {
  const warnings: { path: string; message: string }[] = [];
  const segmentIds = new Set((document.segments ?? []).map((s) => s.id));
  const names = new Set(document.features.map((f) => f.name));
  const checkConstraints = (constraints: Constraint[] | undefined, path: string) => {
    (constraints ?? []).forEach((constraint, index) => {
      const problem = constraintProblem(constraint);
      if (problem)
        warnings.push({ path: `${path}/constraints/${index}`, message: `${problem}; it evaluates to false` });
    });
  };
  document.features.forEach((feature, f) => {
    const base = `/features/${f}`;
    feature.strategies.forEach((strategy, s) => {
      const path = `${base}/strategies/${s}`;
      if (isDisabled(strategy)) {
        warnings.push({
          path,
          message: `strategy ${strategy.name} is disabled; Unleash serves no disabled strategy to SDKs, so it was not imported`,
        });
        return;
      }
      if (!knownStrategies.has(strategy.name)) {
        warnings.push({ path, message: `unknown strategy ${strategy.name}; it never enables the flag` });
      }
      checkConstraints(strategy.constraints, path);
      for (const id of strategy.segments ?? []) {
        if (!segmentIds.has(id)) {
          warnings.push({
            path: `${path}/segments`,
            message: `segment ${id} does not exist; the strategy never matches`,
          });
        }
      }
    });
    for (const dependency of feature.dependencies ?? []) {
      if (!names.has(dependency.feature)) {
        warnings.push({
          path: `${base}/dependencies`,
          message: `parent flag ${dependency.feature} does not exist; ${feature.name} is never enabled`,
        });
      }
    }
  });
  (document.segments ?? []).forEach((segment, index) => {
    checkConstraints(segment.constraints, `/segments/${index}`);
  });
  return warnings;
}

/** Why a constraint cannot match as written, or null when it is well-formed. */
export function constraintProblem(constraint: Constraint): string | null {
  const { operator } = constraint;
  if (!isKnownOperator(operator)) return `unknown operator ${operator}`;
  if (operator === 'REGEX') {
    if (typeof constraint.value !== 'string') return 'REGEX needs a value';
    if (!compileRegex(constraint.value, Boolean(constraint.caseInsensitive)))
      return `invalid regex ${constraint.value}`;
  }
  if (operator.startsWith('SEMVER_')) {
    if (typeof constraint.value !== 'string' || !semver.valid(constraint.value)) {
      return `invalid semver ${String(constraint.value)}`;
    }
  }
  if (operator.startsWith('NUM_')) {
    if (
      constraint.value === undefined ||
      Number.isNaN(Number(constraint.value)) ||
      constraint.value.trim() === ''
    ) {
      return `invalid number ${String(constraint.value)}`;
    }
  }
  if (operator.startsWith('DATE_')) {
    if (constraint.value === undefined || Number.isNaN(new Date(constraint.value).getTime())) {
      return `invalid date ${String(constraint.value)}`;
    }
  }
  if (operator === 'IN_CIDR') {
    const bad = (constraint.values ?? []).filter((v) => v && !isValidCidr(v.trim()));
    if (bad.length) return `invalid CIDR ${bad.join(', ')}`;
  }
  return null;
}

// ---- authoring (admin API) -------------------------------------------------------------------------------

const listOperators = new Set([
  'IN',
  'NOT_IN',
  'STR_ENDS_WITH',
  'STR_STARTS_WITH',
  'STR_CONTAINS',
  'IN_CIDR',
]);

export const constraintSchema = z
  .object({
    contextName: z.string().min(1).max(100),
    operator: z.enum(operators),
    values: z.array(z.string().max(1000)).max(1000).optional(),
    value: z.string().max(1000).optional(),
    inverted: z.boolean().optional(),
    caseInsensitive: z.boolean().optional(),
  })
  .strict()
  .superRefine((constraint, ctx) => {
    if (listOperators.has(constraint.operator)) {
      if (!constraint.values?.length) {
        ctx.addIssue({
          code: 'custom',
          path: ['values'],
          message: `${constraint.operator} needs at least one value`,
        });
      }
    } else if (constraint.value === undefined) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: `${constraint.operator} needs a value` });
    }
    const problem = constraintProblem(constraint);
    if (problem) ctx.addIssue({ code: 'custom', path: [], message: problem });
  });

export const variantPayloadSchema = z
  .object({ type: z.enum(['string', 'json', 'csv', 'number']), value: z.string().max(100_000) })
  .superRefine((payload, ctx) => {
    if (payload.type === 'json') {
      try {
        JSON.parse(payload.value);
      } catch {
        ctx.addIssue({ code: 'custom', path: ['value'], message: 'is not valid JSON' });
      }
    }
    if (payload.type === 'number' && (payload.value.trim() === '' || Number.isNaN(Number(payload.value)))) {
      ctx.addIssue({ code: 'custom', path: ['value'], message: 'is not a number' });
    }
  });

export const variantInputSchema = z
  .object({
    name: z.string().min(1).max(100),
    weightType: z.enum(['variable', 'fix']).default('variable'),
    weight: z.number().int().min(0).max(1000).optional(),
    stickiness: z.string().min(1).max(100).default('default'),
    payload: variantPayloadSchema.optional(),
    overrides: z
      .array(z.object({ contextName: z.string().min(1), values: z.array(z.string()).min(1) }))
      .optional(),
  })
  .strict()
  .superRefine((variant, ctx) => {
    if (variant.weightType === 'fix' && variant.weight === undefined) {
      ctx.addIssue({ code: 'custom', path: ['weight'], message: 'a fixed variant needs a weight' });
    }
  });

export type VariantInput = z.output<typeof variantInputSchema>;

export const variantsInputSchema = z
  .array(variantInputSchema)
  .max(100)
  .superRefine((variants, ctx) => {
    const names = new Set<string>();
    variants.forEach((variant, index) => {
      if (names.has(variant.name))
        ctx.addIssue({ code: 'custom', path: [index, 'name'], message: 'duplicate variant name' });
      names.add(variant.name);
    });
    const fixed = variants.filter((v) => v.weightType === 'fix').reduce((sum, v) => sum + (v.weight ?? 0), 0);
    const variable = variants.filter((v) => v.weightType === 'variable').length;
    if (fixed > 1000 || (variable === 0 && variants.length > 0 && fixed !== 1000)) {
      ctx.addIssue({
        code: 'custom',
        path: [],
        message: `fixed weights add up to ${fixed}; they must leave room for the variable ones, or be exactly 1000`,
      });
    }
    const stickiness = new Set(variants.map((v) => v.stickiness));
    if (stickiness.size > 1)
      ctx.addIssue({ code: 'custom', path: [], message: 'all variants must share one stickiness' });
  });

/**
 * Weights as Unleash computes them: fixed variants keep theirs, the rest of 1000 is split evenly between the
 * variable ones, the first ones taking the remainder.
 */
export function weighVariants(variants: VariantInput[]) {
  const fixed = variants.filter((v) => v.weightType === 'fix').reduce((sum, v) => sum + (v.weight ?? 0), 0);
  const variableCount = variants.filter((v) => v.weightType === 'variable').length;
  const remaining = 1000 - fixed;
  const share = variableCount ? Math.floor(remaining / variableCount) : 0;
  let remainder = variableCount ? remaining % variableCount : 0;
  return variants.map((v) => {
    let weight = v.weight ?? 0;
    if (v.weightType === 'variable') {
      weight = share + (remainder > 0 ? 1 : 0);
      if (remainder > 0) remainder -= 1;
    }
    return {
      name: v.name,
      weight,
      weightType: v.weightType,
      stickiness: v.stickiness,
      ...(v.payload ? { payload: v.payload } : {}),
      ...(v.overrides ? { overrides: v.overrides } : {}),
    };
  });
}

const percentage = z
  .union([z.string(), z.number()])
  .transform((v) => String(v))
  .refine((v) => /^\d{1,3}$/.test(v) && Number(v) <= 100, 'must be a whole number from 0 to 100');

/** Per-strategy parameters, checked for what each strategy reads. */
const strategyParameterSchemas: Record<string, z.ZodType<Record<string, string>>> = {
  default: z.object({}).strict(),
  userWithId: z.object({ userIds: z.string().min(1) }).strict(),
  gradualRolloutUserId: z.object({ percentage, groupId: z.string().min(1).optional() }).strict(),
  gradualRolloutSessionId: z.object({ percentage, groupId: z.string().min(1).optional() }).strict(),
  gradualRolloutRandom: z.object({ percentage }).strict(),
  flexibleRollout: z
    .object({
      rollout: percentage,
      stickiness: z.string().min(1).default('default'),
      groupId: z.string().min(1).optional(),
    })
    .strict(),
  remoteAddress: z
    .object({
      IPs: z
        .string()
        .min(1)
        .refine(
          (ips) => ips.split(/\s*,\s*/).every((ip) => isValidCidr(ip)),
          'every entry must be an IP or CIDR',
        ),
    })
    .strict(),
  applicationHostname: z.object({ hostNames: z.string().min(1) }).strict(),
} as Record<string, z.ZodType<Record<string, string>>>;

export const strategyInputSchema = z
  .object({
    name: z.enum([...knownStrategies] as [string, ...string[]]),
    parameters: z.record(z.string(), z.union([z.string(), z.number()])).default({}),
    constraints: z.array(constraintSchema).max(100).default([]),
    segments: z.array(z.number().int().positive()).max(100).default([]),
    variants: variantsInputSchema.default([]),
    sortOrder: z.number().int().min(0).optional(),
  })
  .strict()
  .superRefine((strategy, ctx) => {
    const schema = strategyParameterSchemas[strategy.name];
    const result = schema?.safeParse(strategy.parameters);
    if (result && !result.success) {
      for (const issue of result.error.issues) {
        ctx.addIssue({
          code: 'custom',
          path: ['parameters', ...issue.path.map(String)],
          message: issue.message,
        });
      }
    }
  });

export type StrategyInput = z.output<typeof strategyInputSchema>;

/** An authored strategy in the client-features shape, with the groupId a rollout defaults to (the flag). */
export function toStrategyDefinition(input: StrategyInput, flagName: string): StrategyDefinition {
  const parsed = strategyParameterSchemas[input.name]?.parse(input.parameters) ?? {};
  const parameters: Record<string, string> = { ...parsed };
  if (['flexibleRollout', 'gradualRolloutUserId', 'gradualRolloutSessionId'].includes(input.name)) {
    parameters.groupId ??= flagName;
  }
  const definition: StrategyDefinition = {
    name: input.name,
    parameters,
    constraints: input.constraints,
  };
  if (input.segments.length) definition.segments = input.segments;
  if (input.variants.length) definition.variants = weighVariants(input.variants);
  return definition;
}

export const flagNameSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9._~-]+$/, 'may contain letters, digits and . _ ~ - only (it goes into URLs)');

export const resourceIdSchema = z
  .string()
  .min(1)
  .max(100)
  .regex(
    /^[a-z0-9][a-z0-9_-]*$/,
    'must be lower-case letters, digits, _ and -, starting with a letter or digit',
  );

export const dependenciesInputSchema = z
  .array(
    z
      .object({
        feature: flagNameSchema,
        enabled: z.boolean().default(true),
        variants: z.array(z.string().min(1)).optional(),
      })
      .strict(),
  )
  .max(20);
