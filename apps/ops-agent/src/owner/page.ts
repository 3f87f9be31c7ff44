import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import { AppError, type ServiceInstance, type ZodTypeProvider } from '@studio/service-kit';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { generateSecret, generateURI, verify as verifyTotp } from 'otplib';
import { z } from 'zod';
import { type AuditReport, productHistory } from '../audit/audit';
import { configuredProducts, integrationStatus } from '../config';
import type { Pipeline } from '../content/pipeline';
import { isStorableToken, storableTokenNames, storableTokens } from '../integrations/tokens';
import { describeError } from '../outbound';
import type { SessionRow } from '../repository';
import { verifyPassword } from './password';
import type { Vault } from './vault';
import { dashboardPage, loginPage, totpPage } from './views';

/**
 * The owner's page at the agent's root: server-rendered, behind the owner password with a session cookie,
 * an optional TOTP second factor (RFC 6238 via otplib) whose secret is sealed with OPS_VAULT_KEY, and forms
 * protected three ways against CSRF: SameSite=Strict cookies, an Origin check, and a per-session token in
 * every form. Routes are hidden from the OpenAPI document: they are for a browser, not for tools.
 */
const SESSION_COOKIE = 'ops_session';
const LOGIN_CSRF_COOKIE = 'ops_login_csrf';
const TOTP_CONTEXT = 'owner-totp-secret';
const MAX_FAILURES = 5;
const FAILURE_WINDOW_MS = 15 * 60 * 1000;

const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest();
const sameText = (a: string, b: string) => {
  const left = sha256(a);
  const right = sha256(b);
  return timingSafeEqual(left, right);
};

export function registerOwnerPage(app: ServiceInstance, options: { vault: Vault; pipeline: Pipeline }) {
  const { ops } = app;
  const { repo, clock, config } = ops;
  const { vault, pipeline } = options;
  const failures = new Map<string, { count: number; since: number }>();

  app.register(async (plain) => {
    const page = plain.withTypeProvider<ZodTypeProvider>();
    await page.register(cookie);
    await page.register(formbody, { bodyLimit: 64 * 1024 });

    const html = (reply: FastifyReply, body: string, status = 200) =>
      reply
        .code(status)
        .header('content-type', 'text/html; charset=utf-8')
        .header('cache-control', 'no-store')
        .header('x-frame-options', 'DENY')
        .header(
          'content-security-policy',
          "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'",
        )
        .header('referrer-policy', 'same-origin')
        .send(body);
    // Relative, so the page works at / and behind Caddy's /ops/ prefix alike.
    const redirect = (reply: FastifyReply, to: string) => reply.code(303).header('location', to).send();
    const cookieOptions = (request: FastifyRequest) => ({
      httpOnly: true,
      sameSite: 'strict' as const,
      secure: request.protocol === 'https',
    });

    /** A form post must come from this origin: browsers send Origin on POST; a mismatch is a cross-site form. */
    const checkOrigin = (request: FastifyRequest) => {
      const origin = request.headers.origin;
      if (origin === undefined || origin === 'null') return;
      const host = request.headers['x-forwarded-host'] ?? request.headers.host;
      if (new URL(origin).host !== host) throw new AppError('forbidden', 'Cross-site form refused');
    };

    const currentSession = (request: FastifyRequest): SessionRow | undefined => {
      const token = request.cookies[SESSION_COOKIE];
      if (!token) return undefined;
      return repo.session(sha256(token), clock.now().toISOString());
    };

    const totpSecret = (): string | undefined => {
      const sealed = repo.setting('totp_secret');
      return sealed ? vault.open(sealed, TOTP_CONTEXT) : undefined;
    };

    const checkCode = async (secret: string, code: string, key: string): Promise<boolean> => {
      if (!/^\d{6}$/.test(code)) return false;
      const last = repo.setting(key);
      const epoch = Math.floor(clock.now().getTime() / 1000);
      const result = await verifyTotp({
        secret,
        token: code,
        epoch,
        epochTolerance: 30,
        // A code is good once: a replayed code from the same (or an older) time step is refused.
        ...(last ? { afterTimeStep: Number(last) } : {}),
      });
      if (!result.valid) return false;
      repo.transaction(() => repo.putSetting(key, String(Math.floor(epoch / 30) + result.delta)))();
      return true;
    };

    const throttle = (request: FastifyRequest) => {
      const now = clock.now().getTime();
      const entry = failures.get(request.ip);
      if (entry && now - entry.since < FAILURE_WINDOW_MS && entry.count >= MAX_FAILURES) {
        throw new AppError('rate_limited', 'Too many failed attempts; try again in 15 minutes');
      }
    };
    const recordFailure = (request: FastifyRequest) => {
      const now = clock.now().getTime();
      const entry = failures.get(request.ip);
      if (!entry || now - entry.since >= FAILURE_WINDOW_MS)
        failures.set(request.ip, { count: 1, since: now });
      else entry.count += 1;
    };

    /** Guards the dashboard and its forms: full session, and for posts a matching CSRF token. */
    const requireOwner = (
      request: FastifyRequest,
      reply: FastifyReply,
      csrf?: string,
    ): SessionRow | undefined => {
      const session = currentSession(request);
      if (!session) {
        redirect(reply, 'login');
        return undefined;
      }
      if (!session.secondFactorDone) {
        redirect(reply, 'totp');
        return undefined;
      }
      if (request.method === 'POST') {
        checkOrigin(request);
        if (!csrf || !sameText(csrf, session.csrfToken))
          throw new AppError('forbidden', 'Invalid form token; reload the page');
      }
      return session;
    };

    const hide = { hide: true } as const;
    const formWith = <Shape extends z.ZodRawShape>(shape: Shape) =>
      z.object({ csrf: z.string().max(200), ...shape });

    page.get('/', { schema: hide }, async (request, reply) => {
      const session = requireOwner(request, reply);
      if (!session) return reply;
      const notice =
        typeof (request.query as { notice?: unknown }).notice === 'string'
          ? (request.query as { notice: string }).notice
          : undefined;
      return html(reply, await renderDashboard(session, notice));
    });

    page.get('/login', { schema: hide }, async (request, reply) => {
      if (!config.OWNER_PASSWORD_HASH) return html(reply, loginPage({ disabled: true, csrf: '' }), 503);
      const token = randomBytes(24).toString('base64url');
      reply.setCookie(LOGIN_CSRF_COOKIE, token, cookieOptions(request));
      return html(reply, loginPage({ csrf: token }));
    });

    page.post(
      '/login',
      { schema: { ...hide, body: formWith({ password: z.string().max(1024) }) } },
      async (request, reply) => {
        const hash = config.OWNER_PASSWORD_HASH;
        if (!hash) return html(reply, loginPage({ disabled: true, csrf: '' }), 503);
        checkOrigin(request);
        const expected = request.cookies[LOGIN_CSRF_COOKIE];
        if (!expected || !sameText(request.body.csrf, expected)) {
          throw new AppError('forbidden', 'Invalid form token; reload the login page');
        }
        throttle(request);
        if (!(await verifyPassword(request.body.password, hash))) {
          recordFailure(request);
          request.log.warn({ ip: request.ip }, 'owner login failed');
          return html(reply, loginPage({ error: 'Wrong password.', csrf: expected }), 401);
        }
        failures.delete(request.ip);
        const token = randomBytes(32).toString('base64url');
        const now = clock.now();
        const needsTotp = repo.setting('totp_secret') !== undefined;
        repo.transaction(() => {
          repo.deleteExpiredSessions(now.toISOString());
          repo.insertSession({
            idHash: sha256(token),
            csrfToken: randomBytes(24).toString('base64url'),
            secondFactorDone: needsTotp ? 0 : 1,
            createdAt: now.toISOString(),
            expiresAt: new Date(now.getTime() + config.SESSION_TTL_HOURS * 3600 * 1000).toISOString(),
          });
        })();
        reply.clearCookie(LOGIN_CSRF_COOKIE);
        reply.setCookie(SESSION_COOKIE, token, cookieOptions(request));
        return redirect(reply, needsTotp ? 'totp' : './');
      },
    );

    page.get('/totp', { schema: hide }, async (request, reply) => {
      const session = currentSession(request);
      if (!session) return redirect(reply, 'login');
      if (session.secondFactorDone) return redirect(reply, './');
      return html(reply, totpPage({ csrf: session.csrfToken }));
    });

    page.post(
      '/totp',
      { schema: { ...hide, body: formWith({ code: z.string().max(20) }) } },
      async (request, reply) => {
        const session = currentSession(request);
        if (!session) return redirect(reply, 'login');
        checkOrigin(request);
        if (!sameText(request.body.csrf, session.csrfToken))
          throw new AppError('forbidden', 'Invalid form token');
        throttle(request);
        const secret = totpSecret();
        if (!secret || !(await checkCode(secret, request.body.code.trim(), 'totp_last_step'))) {
          recordFailure(request);
          return html(reply, totpPage({ csrf: session.csrfToken, error: 'That code is not valid.' }), 401);
        }
        repo.transaction(() => repo.completeSecondFactor(session.idHash))();
        return redirect(reply, './');
      },
    );

    page.post('/logout', { schema: { ...hide, body: formWith({}) } }, async (request, reply) => {
      const session = requireOwner(request, reply, request.body.csrf);
      if (!session) return reply;
      repo.transaction(() => repo.deleteSession(session.idHash))();
      reply.clearCookie(SESSION_COOKIE);
      return redirect(reply, 'login');
    });

    const idForm = formWith({ id: z.string().min(1).max(100) });
    page.post('/ui-approve', { schema: { ...hide, body: idForm } }, async (request, reply) => {
      if (!requireOwner(request, reply, request.body.csrf)) return reply;
      const item = await pipeline.approve(request.body.id);
      return redirect(
        reply,
        `./?notice=${encodeURIComponent(`${item.channel}: ${item.status}${item.lastError ? ` (${item.lastError})` : ''}`)}`,
      );
    });

    page.post(
      '/ui-edit',
      {
        schema: {
          ...hide,
          body: formWith({
            id: z.string().min(1).max(100),
            title: z.string().trim().min(1).max(300),
            body: z.string().min(1).max(200_000),
          }),
        },
      },
      async (request, reply) => {
        if (!requireOwner(request, reply, request.body.csrf)) return reply;
        const item = pipeline.edit(request.body.id, {
          title: request.body.title,
          body: request.body.body.replaceAll('\r\n', '\n'),
        });
        return redirect(reply, `./?notice=${encodeURIComponent(`${item.channel}: edits saved`)}`);
      },
    );

    page.post('/ui-reject', { schema: { ...hide, body: idForm } }, async (request, reply) => {
      if (!requireOwner(request, reply, request.body.csrf)) return reply;
      const item = pipeline.reject(request.body.id);
      return redirect(reply, `./?notice=${encodeURIComponent(`${item.channel}: rejected`)}`);
    });

    page.post('/ui-audit', { schema: { ...hide, body: formWith({}) } }, async (request, reply) => {
      if (!requireOwner(request, reply, request.body.csrf)) return reply;
      const { report } = await ops.audit();
      return redirect(reply, `./?notice=${encodeURIComponent(`Audit ${report.status}`)}`);
    });

    const tokenName = z
      .string()
      .max(100)
      .refine(isStorableToken, { message: `must be one of ${storableTokenNames.join(', ')}` });
    page.post(
      '/ui-token',
      { schema: { ...hide, body: formWith({ name: tokenName, value: z.string().trim().min(1).max(1000) }) } },
      async (request, reply) => {
        if (!requireOwner(request, reply, request.body.csrf)) return reply;
        const name = request.body.name;
        if (!isStorableToken(name)) throw new AppError('bad_request', 'Unknown token');
        try {
          ops.tokens.store(name, request.body.value);
        } catch (error) {
          // The message names the token and the expected shape, never the value.
          return redirect(reply, `./?notice=${encodeURIComponent((error as Error).message)}#integrations`);
        }
        request.log.info({ token: name }, 'integration token stored');
        return redirect(
          reply,
          `./?notice=${encodeURIComponent(`${storableTokens[name].label} stored`)}#integrations`,
        );
      },
    );

    page.post(
      '/ui-token-remove',
      { schema: { ...hide, body: formWith({ name: tokenName }) } },
      async (request, reply) => {
        if (!requireOwner(request, reply, request.body.csrf)) return reply;
        const name = request.body.name;
        if (!isStorableToken(name)) throw new AppError('bad_request', 'Unknown token');
        ops.tokens.remove(name);
        request.log.info({ token: name }, 'integration token removed');
        return redirect(
          reply,
          `./?notice=${encodeURIComponent(`${storableTokens[name].label} removed`)}#integrations`,
        );
      },
    );

    page.post('/ui-totp-setup', { schema: { ...hide, body: formWith({}) } }, async (request, reply) => {
      if (!requireOwner(request, reply, request.body.csrf)) return reply;
      if (repo.setting('totp_secret')) throw new AppError('conflict', 'The second factor is already on');
      repo.transaction(() => repo.putSetting('totp_pending', vault.seal(generateSecret(), TOTP_CONTEXT)))();
      return redirect(reply, './#security');
    });

    page.post(
      '/ui-totp-confirm',
      { schema: { ...hide, body: formWith({ code: z.string().max(20) }) } },
      async (request, reply) => {
        if (!requireOwner(request, reply, request.body.csrf)) return reply;
        const pending = repo.setting('totp_pending');
        if (!pending) return redirect(reply, './');
        if (
          !(await checkCode(vault.open(pending, TOTP_CONTEXT), request.body.code.trim(), 'totp_last_step'))
        ) {
          return redirect(
            reply,
            `./?notice=${encodeURIComponent('That code is not valid; the second factor stays off')}`,
          );
        }
        repo.transaction(() => {
          repo.putSetting('totp_secret', pending);
          repo.deleteSetting('totp_pending');
        })();
        return redirect(reply, `./?notice=${encodeURIComponent('Second factor on')}`);
      },
    );

    page.post(
      '/ui-totp-disable',
      { schema: { ...hide, body: formWith({ code: z.string().max(20) }) } },
      async (request, reply) => {
        if (!requireOwner(request, reply, request.body.csrf)) return reply;
        const secret = totpSecret();
        if (!secret || !(await checkCode(secret, request.body.code.trim(), 'totp_last_step'))) {
          return redirect(
            reply,
            `./?notice=${encodeURIComponent('That code is not valid; the second factor stays on')}`,
          );
        }
        repo.transaction(() => repo.deleteSetting('totp_secret'))();
        return redirect(reply, `./?notice=${encodeURIComponent('Second factor off')}`);
      },
    );
  });

  async function renderDashboard(session: SessionRow, notice?: string): Promise<string> {
    const now = clock.now();
    let visitors = new Map<string, number>();
    if (pipeline.plausible) {
      visitors = await pipeline.plausible.visitorsByPage().catch((error) => {
        app.log.warn(`plausible: ${describeError(error)}`);
        return new Map<string, number>();
      });
    }
    const pending = repo.setting('totp_pending');
    const pendingSecret =
      pending && !repo.setting('totp_secret') ? vault.open(pending, TOTP_CONTEXT) : undefined;
    return dashboardPage({
      csrf: session.csrfToken,
      ...(notice ? { notice } : {}),
      latest: repo.latestAudit() as AuditReport | undefined,
      products: configuredProducts(config).map(({ name, url }) => {
        const state = repo.productState(name);
        return {
          name,
          url,
          lastStatus: state.lastStatus,
          lastError: state.lastReason,
          history: productHistory(repo, name, now),
        };
      }),
      incidents: repo.listIncidents(50).filter((incident) => incident.status === 'open'),
      cycles: repo.recentCycles(8),
      queue: repo.listQueue().filter((item) => item.status !== 'rejected' && item.status !== 'sent'),
      posts: repo.listPosts().map((post) => ({
        id: post.id,
        title: post.title,
        status: post.status,
        url: post.url,
        slug: post.slug,
        ...(visitors.has(`/${post.slug}/`) ? { visitors: visitors.get(`/${post.slug}/`) } : {}),
      })),
      billing: repo.recentStripeEvents(20),
      outbox: repo.pendingOutbox(),
      integrations: integrationStatus(config, (name) => ops.tokens.has(name)),
      tokens: storableTokenNames.map((name) => ({
        name,
        label: storableTokens[name].label,
        source: ops.tokens.source(name),
      })),
      totp: {
        enabled: repo.setting('totp_secret') !== undefined,
        ...(pendingSecret
          ? {
              pendingSecret,
              pendingUri: generateURI({ issuer: 'Studio ops-agent', label: 'owner', secret: pendingSecret }),
            }
          : {}),
      },
    });
  }
}
