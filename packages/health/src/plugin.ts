import type { FastifyInstance, FastifyReply, RouteShorthandOptions } from 'fastify';
import fp from 'fastify-plugin';
import { HEALTH_MEDIA_TYPE, type HealthReport, httpStatusFor } from './contract';
import { assertValidProbe, type Probe, type ProbeRun, runProbes } from './probes';

export type HealthState = 'starting' | 'ready' | 'draining';

export type HealthPluginOptions = {
  serviceId: string;
  description: string;
  version: string;
  releaseId?: string;
  probes: Probe[];
  /** Clock for the checks' `time`; injected by tests. */
  now?: () => Date;
};

export type HealthDecorator = {
  /** Makes /readyz answer 503 from now on, so the load balancer stops routing here before close(). */
  beginDrain(): void;
  /** Adds a probe after registration, e.g. a database probe once the connection exists. */
  addProbe(probe: Probe): void;
  readonly state: HealthState;
};

declare module 'fastify' {
  interface FastifyInstance {
    health: HealthDecorator;
  }
  // Same declaration as @fastify/swagger's, so the two merge whether or not swagger is installed.
  interface FastifySchema {
    hide?: boolean;
  }
}

// Probes are excluded from the OpenAPI document and from rate limiting: orchestrators and monitors poll
// them constantly, and a 429 would read as "unhealthy".
// `rateLimit` is declared by @fastify/rate-limit, which this package does not depend on; the cast keeps the
// option typed in apps that register the limiter and harmless in those that do not.
const routeOptions: RouteShorthandOptions = {
  schema: { hide: true },
  config: { rateLimit: false } as RouteShorthandOptions['config'],
};

function sendReport(reply: FastifyReply, report: HealthReport): FastifyReply {
  return reply
    .code(httpStatusFor(report.status))
    .header('content-type', HEALTH_MEDIA_TYPE)
    .header('cache-control', 'no-store')
    .send(report);
}

/** Joins concurrent callers onto one run, so a burst of scrapes costs one round of probes. */
function singleFlight(run: () => Promise<ProbeRun>): () => Promise<ProbeRun> {
  let inFlight: Promise<ProbeRun> | undefined;
  return () => {
    inFlight ??= run().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };
}

async function healthPluginImpl(app: FastifyInstance, options: HealthPluginOptions): Promise<void> {
  const { serviceId, description, version, releaseId, now } = options;
  for (const value of [serviceId, description, version] as const) {
    if (typeof value !== 'string' || value === '') {
      throw new TypeError('@studio/health needs a non-empty serviceId, description and version');
    }
  }
  options.probes.forEach(assertValidProbe);
  // A copy, so addProbe never mutates the array the caller passed in.
  const probes = [...options.probes];
  let state: HealthState = 'starting';

  const identity: Omit<HealthReport, 'status'> = {
    serviceId,
    description,
    version,
    ...(releaseId === undefined ? {} : { releaseId }),
  };

  const runAll = singleFlight(() => runProbes(probes, now));
  const runCritical = singleFlight(() =>
    runProbes(
      probes.filter((probe) => probe.critical),
      now,
    ),
  );

  const beginDrain = (): void => {
    if (state === 'draining') return;
    state = 'draining';
    app.log.info('health: draining, /readyz now answers 503');
  };

  app.decorate('health', {
    beginDrain,
    addProbe(probe: Probe): void {
      assertValidProbe(probe);
      probes.push(probe);
    },
    get state(): HealthState {
      return state;
    },
  } satisfies HealthDecorator);

  // Fastify runs onReady hooks in registration order, so "ready" means every onReady hook registered
  // before this plugin has finished. Register this plugin after any whose onReady work (migrations,
  // cache warm-up) must complete before traffic arrives.
  app.addHook('onReady', async () => {
    if (state === 'starting') state = 'ready';
  });

  // Fastify itself answers 503 (with its own JSON body) once close() starts, unless the server was built
  // with `return503OnClosing: false`. The graceful path is therefore: on SIGTERM call beginDrain(), wait
  // until the load balancer has seen a 503, then close(). This hook covers a close() without that step.
  app.addHook('preClose', async () => {
    beginDrain();
  });

  app.addHook('onClose', async () => {
    await Promise.allSettled(probes.map(async (probe) => probe.close?.()));
  });

  // Liveness checks nothing but the event loop answering: a failing dependency must not get the process
  // restarted, only taken out of rotation by /readyz.
  app.get('/livez', routeOptions, async (_request, reply) => sendReport(reply, { status: 'pass' }));

  app.get('/readyz', routeOptions, async (_request, reply) => {
    if (state !== 'ready') {
      // Probes are not run while starting or draining: dependencies may not be open yet, or be closing.
      return sendReport(reply, { status: 'fail', ...identity, notes: [state] });
    }
    const { status, checks } = await runCritical();
    const failing = Object.entries(checks)
      .filter(([, entries]) => entries.some((entry) => entry.status === 'fail'))
      .map(([name]) => name);
    const notes = failing.length > 0 ? [`critical probe failing: ${failing.join(', ')}`] : ['ready'];
    return sendReport(reply, { status, ...identity, notes, checks });
  });

  app.get('/health', routeOptions, async (_request, reply) => {
    const { status, checks } = await runAll();
    // /health describes the probes; whether the instance takes traffic is /readyz's job, so the
    // lifecycle state is a note here rather than a change of status.
    const notes = state === 'ready' ? undefined : [state];
    return sendReport(reply, { status, ...identity, ...(notes ? { notes } : {}), checks });
  });
}

export const healthPlugin = fp(healthPluginImpl, { name: '@studio/health', fastify: '5.x' });
