import { Address4, Address6 } from 'ip-address';
import { RE2JS } from 're2js';
import semver from 'semver';
import type { Constraint, Context } from './types';

/**
 * Constraint operators, compiled once per snapshot into closures. Each mirrors the Unleash Node SDK
 * (`lib/strategy/strategy.js`) case for case: values are cleaned (empty ones dropped, the rest trimmed), a
 * missing context field is false, a constraint that cannot be understood (an unknown operator, a bad regex,
 * semver or CIDR) is false — and an unknown operator stays false even when `inverted`, as in the SDK.
 */
export const operators = [
  'IN',
  'NOT_IN',
  'STR_ENDS_WITH',
  'STR_STARTS_WITH',
  'STR_CONTAINS',
  'NUM_EQ',
  'NUM_GT',
  'NUM_GTE',
  'NUM_LT',
  'NUM_LTE',
  'DATE_AFTER',
  'DATE_BEFORE',
  'SEMVER_EQ',
  'SEMVER_GT',
  'SEMVER_LT',
  'SEMVER_GTE',
  'SEMVER_LTE',
  'REGEX',
  'IN_CIDR',
] as const;
export type Operator = (typeof operators)[number];
const operatorSet = new Set<string>(operators);
export const isKnownOperator = (operator: string): operator is Operator => operatorSet.has(operator);

export type ConstraintCheck = (context: Context, now: () => Date) => boolean;

const hasOwn = Object.prototype.hasOwnProperty;

/**
 * `context[field] ?? context.properties[field]`, stringified, as the SDK's `resolveContextValue`. Own
 * properties only: a context field named `constructor` must not reach Object.prototype.
 */
export function resolveContextValue(context: Context, field: string): string | undefined {
  let value: unknown = hasOwn.call(context, field) ? context[field] : undefined;
  if (value === undefined || value === null) {
    const properties = context.properties;
    value = properties && hasOwn.call(properties, field) ? properties[field] : undefined;
  }
  return value !== undefined && value !== null ? String(value) : undefined;
}

const cleanValues = (values: unknown): string[] =>
  Array.isArray(values)
    ? values.filter((v): v is string => !!v).map((v) => (typeof v === 'string' ? v : String(v)).trim())
    : [];

/** Compiles a regex the way the SDK does (RE2 syntax via re2js), or null when RE2 refuses it. */
export function compileRegex(pattern: unknown, caseInsensitive: boolean): RE2JS | null {
  try {
    return RE2JS.compile(String(pattern), caseInsensitive ? RE2JS.CASE_INSENSITIVE : undefined);
  } catch {
    return null;
  }
}

export function isValidCidr(range: string): boolean {
  return Address4.isValid(range) || Address6.isValid(range);
}

// Context versions come from a handful of app releases: parsed once each. Bounded, so a caller sending a
// new version per request costs a parse, never memory.
const parsedVersions = new Map<string, semver.SemVer | null>();
function parseVersion(value: string): semver.SemVer | null {
  let parsed = parsedVersions.get(value);
  if (parsed === undefined) {
    parsed = semver.parse(value);
    if (parsedVersions.size >= 1024) parsedVersions.clear();
    parsedVersions.set(value, parsed);
  }
  return parsed;
}

function cidrCheck(field: string, values: string[]): ConstraintCheck {
  const v4 = values.filter((range) => Address4.isValid(range)).map((range) => new Address4(range));
  const v6 = values.filter((range) => Address6.isValid(range)).map((range) => new Address6(range));
  return (context) => {
    const value = resolveContextValue(context, field);
    if (typeof value !== 'string') return false;
    if (Address4.isValid(value)) {
      const address = new Address4(value);
      return v4.some((range) => address.correctForm() === range.correctForm() || address.isInSubnet(range));
    }
    if (Address6.isValid(value)) {
      const address = new Address6(value);
      return v6.some((range) => address.correctForm() === range.correctForm() || address.isInSubnet(range));
    }
    return false;
  };
}

function baseCheck(constraint: Constraint): ConstraintCheck | null {
  const field = String(constraint.contextName);
  const operator = constraint.operator;
  switch (operator) {
    case 'IN':
    case 'NOT_IN': {
      const values = new Set(cleanValues(constraint.values));
      const isIn = operator === 'IN';
      return (context) => {
        const value = resolveContextValue(context, field);
        const found = value !== undefined && values.has(value);
        return isIn ? found : !found;
      };
    }
    case 'STR_STARTS_WITH':
    case 'STR_ENDS_WITH':
    case 'STR_CONTAINS': {
      const caseInsensitive = Boolean(constraint.caseInsensitive);
      const raw = cleanValues(constraint.values);
      const values = caseInsensitive ? raw.map((v) => v.toLocaleLowerCase()) : raw;
      const test =
        operator === 'STR_STARTS_WITH'
          ? (value: string, v: string) => value.startsWith(v)
          : operator === 'STR_ENDS_WITH'
            ? (value: string, v: string) => value.endsWith(v)
            : (value: string, v: string) => value.includes(v);
      return (context) => {
        let value = resolveContextValue(context, field);
        if (typeof value !== 'string') return false;
        if (caseInsensitive) value = value.toLocaleLowerCase();
        const subject = value;
        return values.some((v) => test(subject, v));
      };
    }
    case 'NUM_EQ':
    case 'NUM_GT':
    case 'NUM_GTE':
    case 'NUM_LT':
    case 'NUM_LTE': {
      const target = Number(constraint.value);
      return (context) => {
        const value = Number(resolveContextValue(context, field));
        if (Number.isNaN(target) || Number.isNaN(value)) return false;
        switch (operator) {
          case 'NUM_EQ':
            return value === target;
          case 'NUM_GT':
            return value > target;
          case 'NUM_GTE':
            return value >= target;
          case 'NUM_LT':
            return value < target;
          default:
            return value <= target;
        }
      };
    }
    case 'DATE_AFTER':
    case 'DATE_BEFORE': {
      const target = new Date(constraint.value as string).getTime();
      const after = operator === 'DATE_AFTER';
      return (context, now) => {
        const current = context.currentTime
          ? new Date(context.currentTime as string).getTime()
          : now().getTime();
        return after ? current > target : current < target;
      };
    }
    case 'SEMVER_EQ':
    case 'SEMVER_GT':
    case 'SEMVER_LT':
    case 'SEMVER_GTE':
    case 'SEMVER_LTE': {
      // semver throws on an invalid target; the SDK catches that and answers false. The target is parsed
      // once; the context value once per call (the SDK's valid() then gt() parse it twice, same result).
      const target = semver.parse(String(constraint.value));
      return (context) => {
        const value = resolveContextValue(context, field);
        if (!value || target === null || value.startsWith('v')) return false;
        const parsed = parseVersion(value);
        if (!parsed) return false;
        const order = parsed.compare(target);
        switch (operator) {
          case 'SEMVER_EQ':
            return order === 0;
          case 'SEMVER_GT':
            return order > 0;
          case 'SEMVER_LT':
            return order < 0;
          case 'SEMVER_GTE':
            return order >= 0;
          default:
            return order <= 0;
        }
      };
    }
    case 'REGEX': {
      const regex = compileRegex(constraint.value, Boolean(constraint.caseInsensitive));
      return (context) => {
        const value = resolveContextValue(context, field);
        if (typeof value !== 'string' || regex === null) return false;
        return regex.matcher(value).find();
      };
    }
    case 'IN_CIDR':
      return cidrCheck(field, cleanValues(constraint.values));
    default:
      return null;
  }
}

const never: ConstraintCheck = () => false;

/** One constraint as a closure; `undefined` (a segment that does not exist) never matches. */
export function compileConstraint(constraint: Constraint | undefined | null): ConstraintCheck {
  if (!constraint) return never;
  const check = baseCheck(constraint);
  if (!check) return never;
  return constraint.inverted ? (context, now) => !check(context, now) : check;
}
