import { createHash } from 'node:crypto';
import { z } from 'zod';
import { currentStatus, nextExpected } from '../../monitor/state';
import { isoSeconds } from '../../monitor/transitions';
import type { Check } from '../../repository';

export const checkJsonSchema = z.looseObject({
  name: z.string(),
  slug: z.string(),
  tags: z.string(),
  desc: z.string(),
  grace: z.number(),
  n_pings: z.number(),
  status: z.enum(['new', 'up', 'grace', 'down', 'paused', 'started']),
  started: z.boolean(),
  last_ping: z.string().nullable(),
  next_ping: z.string().nullable(),
  manual_resume: z.boolean(),
  methods: z.string(),
  badge_url: z.string(),
  last_duration: z.number().nullable(),
  min_duration: z.number().nullable(),
  failure_tolerance: z.number(),
  max_runtime: z.number().nullable(),
  uuid: z.string().optional(),
  unique_key: z.string().optional(),
  ping_url: z.string().optional(),
  update_url: z.string().optional(),
  pause_url: z.string().optional(),
  resume_url: z.string().optional(),
  channels: z.string().optional(),
  timeout: z.number().optional(),
  schedule: z.string().optional(),
  tz: z.string().optional(),
});

export type CheckJson = z.infer<typeof checkJsonSchema>;

/** healthchecks' read-only identifier of a check: SHA-1 of its UUID's hex digits. */
export const uniqueKeyOf = (code: string) =>
  createHash('sha1').update(code.replaceAll('-', '')).digest('hex');

export const tagsOf = (check: Pick<Check, 'tags'>) => check.tags.split(' ').filter((tag) => tag !== '');

/** A check as healthchecks' API returns it (`Check.to_dict`), plus CronPing's own fields. */
export function checkJson(
  check: Check,
  options: { baseUrl: string; version: number; readOnly: boolean; now: number; channelIds: () => string[] },
): CheckJson {
  const { baseUrl, version, now } = options;
  const expected =
    check.lastPing !== null && (check.status === 'up' || check.status === 'down')
      ? nextExpected(check, check.lastPing)
      : null;
  const json: CheckJson = {
    name: check.name,
    slug: check.slug,
    tags: check.tags,
    desc: check.description,
    grace: check.grace,
    n_pings: check.nPings,
    status: currentStatus(check, now),
    started: check.lastStart !== null,
    last_ping: check.lastPing === null ? null : isoSeconds(check.lastPing),
    next_ping: expected === null ? null : isoSeconds(expected),
    manual_resume: check.manualResume,
    methods: check.methods,
    // As healthchecks: the deprecated subject fields echo the keywords while the subject filter is on.
    subject: check.filterSubject ? check.successKw : '',
    subject_fail: check.filterSubject ? check.failureKw : '',
    start_kw: check.startKw,
    success_kw: check.successKw,
    failure_kw: check.failureKw,
    filter_subject: check.filterSubject,
    filter_body: check.filterBody,
    badge_url: `${baseUrl}/b/2/${check.badgeKey}.svg`,
    last_duration: check.lastDuration === null ? null : Math.round(check.lastDuration / 1000),
    min_duration: check.minDuration,
    failure_tolerance: check.failureTolerance,
    max_runtime: check.maxRuntime,
  };
  if (options.readOnly) {
    json.unique_key = uniqueKeyOf(check.code);
  } else {
    const api = `${baseUrl}/api/v${version}/checks/${check.code}`;
    json.uuid = check.code;
    json.ping_url = `${baseUrl}/ping/${check.code}`;
    json.update_url = api;
    json.pause_url = `${api}/pause`;
    json.resume_url = `${api}/resume`;
    json.channels = options.channelIds().join(',');
  }
  if (check.kind === 'simple') json.timeout = check.timeout;
  else {
    json.schedule = check.schedule;
    json.tz = check.tz;
  }
  return json;
}
