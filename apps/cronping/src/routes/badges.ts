import type { ServiceInstance } from '@studio/service-kit';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { currentStatus } from '../monitor/state';
import type { Check } from '../repository';
import { tagsOf } from './api/check-json';

/**
 * Public status badges, as healthchecks serves them: SVG, JSON and shields.io's endpoint format, per check
 * (`/b/<2|3>/<check badge key>.<format>`) and per tag of an account (`/badge/<account badge key>/<2|3>/<tag>.<format>`,
 * `*` for every check). "2" badges say up or down; "3" badges also say late (in the grace period).
 * Badge keys are random and only reveal a status, never a ping URL.
 */

type BadgeStatus = 'up' | 'late' | 'down';
const COLORS: Record<BadgeStatus, string> = { up: '#4c1', late: '#fe7d37', down: '#e05d44' };
const SHIELDS_COLORS: Record<BadgeStatus, string> = { up: 'success', late: 'important', down: 'critical' };

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (char) => `&#${char.charCodeAt(0)};`);

// An approximation of Verdana 11px widths: badges need to look right, not to be typeset.
const textWidth = (text: string) =>
  Math.round(
    [...text].reduce(
      (sum, char) => sum + (/[mwMW@]/.test(char) ? 9 : /[il.,:;|!'I1 ]/.test(char) ? 4 : 7),
      0,
    ),
  ) + 10;

export function badgeSvg(label: string, status: BadgeStatus): string {
  const labelWidth = textWidth(label);
  const statusWidth = textWidth(status);
  const width = labelWidth + statusWidth;
  const safeLabel = escapeXml(label);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="20" role="img" aria-label="${safeLabel}: ${status}"><title>${safeLabel}: ${status}</title><linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient><clipPath id="r"><rect width="${width}" height="20" rx="3" fill="#fff"/></clipPath><g clip-path="url(#r)"><rect width="${labelWidth}" height="20" fill="#555"/><rect x="${labelWidth}" width="${statusWidth}" height="20" fill="${COLORS[status]}"/><rect width="${width}" height="20" fill="url(#s)"/></g><g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11"><text x="${labelWidth / 2}" y="14">${safeLabel}</text><text x="${labelWidth + statusWidth / 2}" y="14">${status}</text></g></svg>`;
}

function summarize(checks: Check[], now: number, withLate: boolean) {
  let status: BadgeStatus = 'up';
  let grace = 0;
  let down = 0;
  for (const check of checks) {
    const current = currentStatus(check, now);
    if (current === 'down') {
      down += 1;
      status = 'down';
    } else if (current === 'grace') {
      grace += 1;
      if (status === 'up' && withLate) status = 'late';
    }
  }
  return { status, total: checks.length, grace, down };
}

export function registerBadgeRoutes(app: ServiceInstance) {
  const { repository, clock } = app.monitor;
  const formats = z.enum(['svg', 'json', 'shields']);

  const send = (
    reply: FastifyReply,
    format: z.infer<typeof formats>,
    label: string,
    summary: ReturnType<typeof summarize>,
  ) => {
    reply.header('cache-control', 'no-cache').header('access-control-allow-origin', '*');
    if (format === 'svg') return reply.type('image/svg+xml').send(badgeSvg(label, summary.status));
    if (format === 'json') return reply.send(summary);
    return reply.send({
      schemaVersion: 1,
      label,
      message: summary.status,
      color: SHIELDS_COLORS[summary.status],
    });
  };

  const parseFile = (file: string) => {
    const match = /^(.+)\.(svg|json|shields)$/.exec(file);
    return match
      ? { name: decodeURIComponent(match[1]!), format: match[2] as z.infer<typeof formats> }
      : null;
  };
  const notFound = { error: { code: 'not_found' as const, message: 'badge not found', requestId: '' } };

  app.get(
    '/b/:states/:file',
    {
      schema: {
        tags: ['badges'],
        summary: "A check's badge: /b/<2|3>/<badge key>.<svg|json|shields>",
        params: z.object({ states: z.enum(['2', '3']), file: z.string() }),
      },
    },
    async (request, reply) => {
      const parsed = parseFile(request.params.file);
      const check = parsed ? repository.checkByBadgeKey(parsed.name) : null;
      if (!parsed || !check)
        return reply.code(404).send({ ...notFound, error: { ...notFound.error, requestId: request.id } });
      const summary = summarize([check], clock.now(), request.params.states === '3');
      return send(reply, parsed.format, check.name || check.code, summary);
    },
  );

  app.get(
    '/badge/:key/:states/:file',
    {
      schema: {
        tags: ['badges'],
        summary: 'A tag badge of an account: /badge/<account badge key>/<2|3>/<tag or *>.<svg|json|shields>',
        params: z.object({ key: z.string(), states: z.enum(['2', '3']), file: z.string() }),
      },
    },
    async (request, reply) => {
      const parsed = parseFile(request.params.file);
      const accountId = parsed ? repository.accountByBadgeKey(request.params.key) : null;
      if (!parsed || !accountId) {
        return reply.code(404).send({ ...notFound, error: { ...notFound.error, requestId: request.id } });
      }
      const all = repository.checksOfAccount(accountId);
      const checks = parsed.name === '*' ? all : all.filter((check) => tagsOf(check).includes(parsed.name));
      const summary = summarize(checks, clock.now(), request.params.states === '3');
      return send(reply, parsed.format, parsed.name === '*' ? 'cronping' : parsed.name, summary);
    },
  );
}
