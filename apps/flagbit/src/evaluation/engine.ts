import { Address4 } from 'ip-address';
import { type ConstraintCheck, compileConstraint, resolveContextValue } from './constraints';
import { normalizedStrategyValue, normalizedVariantValue } from './murmur';
import type {
  ClientFeatures,
  Context,
  EvaluationReason,
  FeatureDefinition,
  Payload,
  Segment,
  StrategyDefinition,
  StrategyParameters,
  VariantDefinition,
  VariantResult,
} from './types';

/**
 * The evaluation engine: a client-features document compiled into closures, evaluated with the Unleash Node
 * SDK's semantics (`lib/client.js`, `lib/variant.js`, `lib/strategy/*`). Pure: the clock, the randomness of the
 * random strategies and the host name are inputs, never read from the process.
 */
export interface EngineOptions {
  now?: () => Date;
  /** Returns a number in [0, 1) like Math.random; random rollouts and random stickiness use it. */
  random?: () => number;
  /** The host name `applicationHostname` compares with (lower-cased). */
  hostname?: string;
}

interface StrategyOutcome {
  enabled: boolean;
  variant?: { name: string; enabled: true; payload?: Payload };
  /** The strategy that matched, for reasons. */
  strategy?: CompiledStrategy;
}

interface CompiledStrategy {
  name: string;
  /** Decides the strategy itself (after constraints). */
  isEnabled: (context: Context) => boolean;
  constraints: ConstraintCheck[];
  hasConstraints: boolean;
  variants: VariantSet | undefined;
  variantStickiness: string | undefined;
  groupId: unknown;
  /** true for strategies that bucket users (rollouts, random). */
  splits: boolean;
}

interface CompiledFeature {
  definition: FeatureDefinition;
  name: string;
  enabled: boolean;
  strategiesValid: boolean;
  strategies: CompiledStrategy[];
  variants: VariantSet;
  variantStickiness: string | undefined;
  dependencies: FeatureDefinition['dependencies'];
}

export interface Evaluation {
  name: string;
  enabled: boolean;
  variant: VariantResult;
  reason: EvaluationReason;
  impressionData: boolean;
}

const DISABLED_VARIANT = { name: 'disabled', enabled: false } as const;
// Shared, frozen answers: evaluation allocates nothing for the common "off" outcomes.
const VARIANT_FEATURE_OFF: VariantResult = Object.freeze({ ...DISABLED_VARIANT, feature_enabled: false });
const VARIANT_FEATURE_ON: VariantResult = Object.freeze({ ...DISABLED_VARIANT, feature_enabled: true });
const OUTCOME_OFF: StrategyOutcome = Object.freeze({ enabled: false });
const OUTCOME_ON: StrategyOutcome = Object.freeze({ enabled: true });
const STICKINESS_FIELDS = ['userId', 'sessionId', 'remoteAddress'] as const;

/** A variant list with what selection needs computed once: the total weight and whether any override exists. */
interface VariantSet {
  variants: VariantDefinition[];
  totalWeight: number;
  hasOverrides: boolean;
}

function variantSet(variants: VariantDefinition[]): VariantSet {
  let totalWeight = 0;
  for (const variant of variants) totalWeight += variant.weight;
  return { variants, totalWeight, hasOverrides: variants.some((v) => v.overrides) };
}

const splitList = (value: unknown) => (value ? String(value).split(/\s*,\s*/) : []);

export class CompiledFeatures {
  private readonly features = new Map<string, CompiledFeature>();
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly hostname: string;
  readonly names: string[];

  constructor(document: ClientFeatures, options: EngineOptions = {}) {
    this.now = options.now ?? (() => new Date());
    this.random = options.random ?? Math.random;
    this.hostname = (options.hostname ?? 'undefined').toLowerCase();
    const segments = new Map<number, Segment>();
    for (const segment of document.segments ?? []) segments.set(segment.id, segment);
    for (const feature of document.features ?? []) {
      this.features.set(feature.name, this.compileFeature(feature, segments));
    }
    this.names = [...this.features.keys()];
  }

  has(name: string): boolean {
    return this.features.has(name);
  }

  definition(name: string): FeatureDefinition | undefined {
    return this.features.get(name)?.definition;
  }

  private compileFeature(feature: FeatureDefinition, segments: Map<number, Segment>): CompiledFeature {
    const strategiesValid = Array.isArray(feature.strategies);
    const variants = Array.isArray(feature.variants) ? feature.variants : [];
    return {
      definition: feature,
      name: feature.name,
      enabled: Boolean(feature.enabled),
      strategiesValid,
      strategies: strategiesValid ? feature.strategies.map((s) => this.compileStrategy(s, segments)) : [],
      variants: variantSet(variants),
      variantStickiness: variants[0]?.stickiness ?? undefined,
      dependencies: feature.dependencies,
    };
  }

  private compileStrategy(strategy: StrategyDefinition, segments: Map<number, Segment>): CompiledStrategy {
    const parameters: StrategyParameters = strategy.parameters ?? {};
    const constraints: ConstraintCheck[] = (strategy.constraints ?? []).map(compileConstraint);
    // Segment constraints follow the strategy's own; a segment that does not exist is a constraint that fails.
    for (const id of strategy.segments ?? []) {
      const segment = segments.get(id);
      if (!segment) constraints.push(compileConstraint(undefined));
      else
        for (const constraint of segment.constraints ?? []) constraints.push(compileConstraint(constraint));
    }
    const variants =
      Array.isArray(strategy.variants) && strategy.variants.length > 0 ? strategy.variants : undefined;
    return {
      name: strategy.name,
      isEnabled: this.strategyFunction(strategy.name, parameters),
      constraints,
      hasConstraints: constraints.length > 0,
      variants: variants ? variantSet(variants) : undefined,
      variantStickiness: variants
        ? variants[0]?.stickiness || (parameters.stickiness as string | undefined)
        : undefined,
      groupId: parameters.groupId,
      splits: [
        'flexibleRollout',
        'gradualRolloutUserId',
        'gradualRolloutSessionId',
        'gradualRolloutRandom',
      ].includes(strategy.name),
    };
  }

  private strategyFunction(name: string, parameters: StrategyParameters): (context: Context) => boolean {
    switch (name) {
      case 'default':
        return () => true;
      case 'userWithId': {
        const userIds = splitList(parameters.userIds);
        return (context) => context.userId !== undefined && userIds.includes(context.userId as string);
      }
      case 'gradualRolloutUserId':
      case 'gradualRolloutSessionId': {
        const field = name === 'gradualRolloutUserId' ? 'userId' : 'sessionId';
        const percentage = Number(parameters.percentage);
        const groupId = String(parameters.groupId || '');
        return (context) => {
          const id = context[field];
          if (!id) return false;
          return percentage > 0 && normalizedStrategyValue(String(id), groupId) <= percentage;
        };
      }
      case 'gradualRolloutRandom': {
        const percentage = Number(parameters.percentage);
        return () => percentage >= Math.floor(this.random() * 100) + 1;
      }
      case 'flexibleRollout': {
        const percentage = Number(parameters.rollout);
        const stickiness = String(parameters.stickiness || 'default');
        const configuredGroupId = parameters.groupId;
        const randomId = () => `${Math.round(this.random() * 10000) + 1}`;
        const fixedGroupId = configuredGroupId ? String(configuredGroupId) : undefined;
        return (context) => {
          const groupId = fixedGroupId ?? String(context.featureToggle || '');
          let stickinessId: string | undefined;
          if (stickiness === 'default') {
            stickinessId = (context.userId as string) || (context.sessionId as string) || randomId();
          } else if (stickiness === 'random') {
            stickinessId = randomId();
          } else {
            stickinessId = resolveContextValue(context, stickiness);
          }
          if (!stickinessId) return false;
          return percentage > 0 && normalizedStrategyValue(String(stickinessId), groupId) <= percentage;
        };
      }
      case 'remoteAddress': {
        const ranges = parameters.IPs ? String(parameters.IPs).split(/\s*,\s*/) : null;
        return (context) => {
          if (!ranges) return false;
          return ranges.some((range) => {
            if (range === context.remoteAddress) return true;
            try {
              const subnet = new Address4(range);
              const address = new Address4((context.remoteAddress as string) || '');
              return address.isInSubnet(subnet);
            } catch {
              return false;
            }
          });
        };
      }
      case 'applicationHostname': {
        const hostNames = parameters.hostNames
          ? String(parameters.hostNames)
              .toLowerCase()
              .split(/\s*,\s*/)
          : null;
        const matches = hostNames ? hostNames.includes(this.hostname) : false;
        return () => matches;
      }
      default:
        // A strategy this engine does not know is skipped, as the SDK skips a strategy it has no
        // implementation for: it never enables the flag.
        return () => false;
    }
  }

  private isKnownStrategy(strategy: CompiledStrategy): boolean {
    return knownStrategies.has(strategy.name);
  }

  private strategyOutcome(strategy: CompiledStrategy, context: Context): StrategyOutcome {
    const now = this.now;
    for (const check of strategy.constraints) if (!check(context, now)) return OUTCOME_OFF;
    if (!strategy.isEnabled(context)) return OUTCOME_OFF;
    if (strategy.variants) {
      const definition = this.selectVariantDefinition(
        strategy.groupId,
        strategy.variantStickiness,
        strategy.variants,
        context,
      );
      if (definition) {
        return {
          enabled: true,
          strategy,
          variant: { name: definition.name, enabled: true, payload: definition.payload },
        };
      }
    }
    return { enabled: true, strategy };
  }

  private parentsSatisfied(feature: CompiledFeature, context: Context): boolean {
    const dependencies = feature.dependencies;
    if (!dependencies?.length) return true;
    return dependencies.every((parent) => {
      const parentFeature = this.features.get(parent.feature);
      if (!parentFeature) return false;
      // Only one level of dependencies: a parent that itself depends on something never satisfies.
      if (parentFeature.dependencies?.length) return false;
      if (parent.enabled !== false) {
        if (parent.variants?.length) {
          const variant = this.resolveVariant(parentFeature, context);
          return variant.feature_enabled && parent.variants.includes(variant.name);
        }
        return this.featureOutcome(parentFeature, context).enabled;
      }
      return !this.featureOutcome(parentFeature, context).enabled;
    });
  }

  private featureOutcome(feature: CompiledFeature, context: Context): StrategyOutcome {
    if (!this.parentsSatisfied(feature, context) || !feature.enabled) return OUTCOME_OFF;
    if (!feature.strategiesValid) return OUTCOME_OFF;
    if (feature.strategies.length === 0) return OUTCOME_ON;
    for (const strategy of feature.strategies) {
      if (!this.isKnownStrategy(strategy)) continue;
      const outcome = this.strategyOutcome(strategy, context);
      if (outcome.enabled) return outcome;
    }
    return OUTCOME_OFF;
  }

  private seedFor(context: Context, stickiness: string | undefined): string {
    if (stickiness !== undefined && stickiness !== 'default') {
      return resolveContextValue(context, String(stickiness)) || String(Math.round(this.random() * 100000));
    }
    for (const key of STICKINESS_FIELDS) {
      const value = context[key];
      if (typeof value === 'string' && value !== '') return value;
    }
    return String(Math.round(this.random() * 100000));
  }

  private selectVariantDefinition(
    groupId: unknown,
    stickiness: string | undefined,
    set: VariantSet,
    context: Context,
  ): VariantDefinition | null {
    const { variants, totalWeight } = set;
    if (!(totalWeight > 0)) return null;
    if (set.hasOverrides) {
      const override = this.overrideFor(variants, context);
      if (override) return override;
    }
    const target = normalizedVariantValue(this.seedFor(context, stickiness), `${groupId}`, totalWeight);
    let counter = 0;
    for (const variant of variants) {
      if (variant.weight === 0) continue;
      counter += variant.weight;
      if (counter >= target) return variant;
    }
    return null;
  }

  private overrideFor(variants: VariantDefinition[], context: Context): VariantDefinition | null {
    for (const variant of variants) {
      if (!variant.overrides) continue;
      const matches = variant.overrides.some((override) => {
        const value = resolveContextValue(context, override.contextName);
        return override.values.some((candidate) => candidate === value);
      });
      if (matches) return variant;
    }
    return null;
  }

  private resolveVariant(feature: CompiledFeature, context: Context): VariantResult {
    const outcome = this.featureOutcome(feature, context);
    if (outcome.enabled && outcome.variant) return { ...outcome.variant, feature_enabled: true };
    if (!outcome.enabled) return VARIANT_FEATURE_OFF;
    if (feature.variants.variants.length === 0) return VARIANT_FEATURE_ON;
    const variant = this.selectVariantDefinition(
      feature.name,
      feature.variantStickiness,
      feature.variants,
      context,
    );
    if (!variant) return VARIANT_FEATURE_ON;
    return { name: variant.name, payload: variant.payload, enabled: true, feature_enabled: true };
  }

  /** `unleash.isEnabled(name, context)`; an unknown flag is false. */
  isEnabled(name: string, context: Context): boolean {
    const feature = this.features.get(name);
    if (!feature) return false;
    return this.featureOutcome(feature, context).enabled;
  }

  /** `unleash.getVariant(name, context)`, with the SDK's `feature_enabled`. */
  getVariant(name: string, context: Context): VariantResult {
    const feature = this.features.get(name);
    if (!feature) return VARIANT_FEATURE_OFF;
    return this.resolveVariant(feature, context);
  }

  /**
   * One flag evaluated once, with the variant and the reason: what the frontend API and OFREP answer. The
   * variant comes from the same strategy outcome as `enabled`, so a random rollout cannot disagree with itself.
   */
  evaluate(name: string, context: Context): Evaluation | undefined {
    const feature = this.features.get(name);
    if (!feature) return undefined;
    const outcome = this.featureOutcome(feature, context);
    const impressionData = Boolean(feature.definition.impressionData);
    if (!outcome.enabled) {
      return {
        name,
        enabled: false,
        variant: VARIANT_FEATURE_OFF,
        reason: feature.enabled ? 'DEFAULT' : 'DISABLED',
        impressionData,
      };
    }
    const strategy = outcome.strategy;
    const reasonFromStrategy: EvaluationReason = !strategy
      ? 'STATIC'
      : strategy.splits
        ? 'SPLIT'
        : strategy.hasConstraints || strategy.name !== 'default'
          ? 'TARGETING_MATCH'
          : 'STATIC';
    if (outcome.variant) {
      return {
        name,
        enabled: true,
        variant: { ...outcome.variant, feature_enabled: true },
        reason: 'SPLIT',
        impressionData,
      };
    }
    if (feature.variants.variants.length > 0) {
      const variant = this.selectVariantDefinition(
        feature.name,
        feature.variantStickiness,
        feature.variants,
        context,
      );
      if (variant) {
        return {
          name,
          enabled: true,
          variant: { name: variant.name, payload: variant.payload, enabled: true, feature_enabled: true },
          reason: 'SPLIT',
          impressionData,
        };
      }
    }
    return {
      name,
      enabled: true,
      variant: VARIANT_FEATURE_ON,
      reason: reasonFromStrategy,
      impressionData,
    };
  }
}

export const knownStrategies = new Set([
  'default',
  'userWithId',
  'gradualRolloutUserId',
  'gradualRolloutSessionId',
  'gradualRolloutRandom',
  'flexibleRollout',
  'remoteAddress',
  'applicationHostname',
]);

export function compileFeatures(document: ClientFeatures, options?: EngineOptions): CompiledFeatures {
  return new CompiledFeatures(document, options);
}
