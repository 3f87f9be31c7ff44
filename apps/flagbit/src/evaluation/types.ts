/**
 * Unleash's client-features document (`GET /api/client/features`), typed as loosely as the SDKs read it: an
 * imported document may carry values the SDKs tolerate (an unknown operator, a bad regex), and evaluation must
 * treat them exactly as the SDKs do, so nothing here promises more than the wire does.
 */
export interface Constraint {
  contextName: string;
  operator: string;
  values?: string[];
  value?: string;
  inverted?: boolean;
  caseInsensitive?: boolean;
}

export interface Payload {
  type: string;
  value: string;
}

export interface Override {
  contextName: string;
  values: string[];
}

export interface VariantDefinition {
  name: string;
  weight: number;
  weightType?: string;
  stickiness?: string;
  payload?: Payload;
  overrides?: Override[];
}

export type StrategyParameters = Record<string, string | number | boolean | null>;

export interface StrategyDefinition {
  name: string;
  parameters?: StrategyParameters;
  constraints?: Constraint[];
  segments?: number[];
  variants?: VariantDefinition[];
}

export interface Dependency {
  feature: string;
  enabled?: boolean;
  variants?: string[];
}

export interface FeatureDefinition {
  name: string;
  enabled: boolean;
  strategies: StrategyDefinition[];
  variants?: VariantDefinition[] | null;
  dependencies?: Dependency[];
  type?: string;
  description?: string | null;
  project?: string;
  stale?: boolean;
  impressionData?: boolean;
}

export interface Segment {
  id: number;
  name?: string;
  constraints: Constraint[];
}

export interface ClientFeatures {
  version: number;
  features: FeatureDefinition[];
  segments?: Segment[];
}

/** The evaluation context, as the Unleash SDKs define it. */
export interface Context {
  userId?: string;
  sessionId?: string;
  remoteAddress?: string;
  environment?: string;
  appName?: string;
  currentTime?: string | Date;
  properties?: Record<string, string | number | boolean | null | undefined>;
  [field: string]: unknown;
}

export interface VariantResult {
  name: string;
  enabled: boolean;
  payload?: Payload;
  feature_enabled: boolean;
}

/** Why a flag evaluated as it did: what OFREP's reasons are built from. */
export type EvaluationReason = 'DISABLED' | 'STATIC' | 'TARGETING_MATCH' | 'SPLIT' | 'DEFAULT';
