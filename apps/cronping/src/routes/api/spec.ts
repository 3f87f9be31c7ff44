import { assertValidCron, isValidTimezone, ScheduleError } from '../../schedule';

/**
 * The body of healthchecks' create and update calls, validated with healthchecks' own first-error
 * messages ("json validation error: timeout is too small"), so its clients show the same text.
 */
export interface CheckSpec {
  name?: string;
  slug?: string;
  tags?: string;
  desc?: string;
  timeout?: number;
  grace?: number;
  schedule?: string;
  tz?: string;
  manual_resume?: boolean;
  methods?: '' | 'POST';
  channels?: string;
  unique?: ('name' | 'slug' | 'tags' | 'timeout' | 'grace')[];
  min_duration?: number | null;
  failure_tolerance?: number;
  max_runtime?: number | null;
  subject?: string;
  subject_fail?: string;
  filter_subject?: boolean;
  filter_body?: boolean;
  start_kw?: string;
  success_kw?: string;
  failure_kw?: string;
}

export class SpecError extends Error {}

const fail = (message: string): never => {
  throw new SpecError(`json validation error: ${message}`);
};

const MAX_PERIOD = 31_536_000;

function string(body: Record<string, unknown>, key: string, maxLength?: number): string | undefined {
  if (!(key in body)) return undefined;
  const value = body[key];
  if (typeof value !== 'string') return fail(`${key} is not a string`);
  if (maxLength !== undefined && value.length > maxLength) fail(`${key} is too long`);
  return value;
}

function boolean(body: Record<string, unknown>, key: string): boolean | undefined {
  if (!(key in body)) return undefined;
  if (typeof body[key] !== 'boolean') return fail(`${key} is not a boolean`);
  return body[key] as boolean;
}

function integer(body: Record<string, unknown>, key: string, min: number, max: number): number | undefined {
  if (!(key in body)) return undefined;
  const value = body[key];
  if (typeof value !== 'number' || !Number.isInteger(value)) return fail(`${key} is not a number`);
  if (value < min) fail(`${key} is too small`);
  if (value > max) fail(`${key} is too large`);
  return value;
}

function nullableInteger(body: Record<string, unknown>, key: string, min: number, max: number) {
  if (key in body && body[key] === null) return null;
  return integer(body, key, min, max);
}

export function parseCheckSpec(input: unknown): CheckSpec {
  if (input === undefined || input === null) return {};
  if (typeof input !== 'object' || Array.isArray(input)) return fail('value is not an object');
  const body = input as Record<string, unknown>;
  const spec: CheckSpec = {};
  spec.name = string(body, 'name', 100);
  spec.slug = string(body, 'slug', 100);
  if (spec.slug !== undefined && !/^[a-z0-9_-]*$/.test(spec.slug)) fail('slug does not match pattern');
  spec.tags = string(body, 'tags');
  spec.desc = string(body, 'desc');
  spec.channels = string(body, 'channels');
  spec.timeout = integer(body, 'timeout', 60, MAX_PERIOD);
  spec.grace = integer(body, 'grace', 60, MAX_PERIOD);
  spec.schedule = string(body, 'schedule', 100);
  if (spec.schedule !== undefined) {
    try {
      assertValidCron(spec.schedule);
    } catch (error) {
      if (error instanceof ScheduleError) fail('schedule is not a valid cron or OnCalendar expression');
      throw error;
    }
  }
  spec.tz = string(body, 'tz');
  if (spec.tz !== undefined && !isValidTimezone(spec.tz)) fail('tz is not a valid timezone');
  spec.manual_resume = boolean(body, 'manual_resume');
  spec.filter_subject = boolean(body, 'filter_subject');
  spec.filter_body = boolean(body, 'filter_body');
  spec.subject = string(body, 'subject', 200);
  spec.subject_fail = string(body, 'subject_fail', 200);
  spec.start_kw = string(body, 'start_kw', 200);
  spec.success_kw = string(body, 'success_kw', 200);
  spec.failure_kw = string(body, 'failure_kw', 200);
  const methods = string(body, 'methods');
  if (methods !== undefined && methods !== '' && methods !== 'POST') fail('methods has unexpected value');
  spec.methods = methods as CheckSpec['methods'];
  if ('unique' in body) {
    if (!Array.isArray(body.unique)) fail('unique is not an array');
    for (const item of body.unique as unknown[]) {
      if (typeof item !== 'string' || !['name', 'slug', 'tags', 'timeout', 'grace'].includes(item)) {
        fail("an item in 'unique' has unexpected value");
      }
    }
    spec.unique = body.unique as CheckSpec['unique'];
  }
  spec.min_duration = nullableInteger(body, 'min_duration', 0, MAX_PERIOD);
  spec.failure_tolerance = integer(body, 'failure_tolerance', 0, 1000);
  spec.max_runtime = nullableInteger(body, 'max_runtime', 1, MAX_PERIOD);
  return spec;
}

/** Django's slugify, as healthchecks' v1 and v2 apply it to a check's name. */
export function slugify(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '') // combining marks left by NFKD
    .replace(/[^ -~]/g, '')
    .toLowerCase()
    .replace(/[^\w\s-]/g, '')
    .trim()
    .replace(/[-\s]+/g, '-')
    .replace(/^[-_]+|[-_]+$/g, '');
}
