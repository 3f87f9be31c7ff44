import type { ServiceInstance } from '@studio/service-kit';
import { z } from 'zod';
import type { Cycles } from '../cycles';
import { adminSecurity, errors } from './schemas';

const actionSchema = z.object({ step: z.string(), outcome: z.string() });
const cycleSchema = z.object({
  id: z.string(),
  status: z.string(),
  startedAt: z.string(),
  actions: z.array(actionSchema),
});

export function registerCycleRoutes(app: ServiceInstance, cycles: Cycles) {
  app.post(
    '/cycles',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['cycles'],
        summary: 'Run one cycle now (audit, recovery, pipeline); 429 when the day’s budget is spent',
        security: adminSecurity,
        response: { 200: cycleSchema, ...errors(401, 429) },
      },
    },
    async () => cycles.runManual(),
  );

  app.get(
    '/cycles',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['cycles'],
        security: adminSecurity,
        response: {
          200: z.object({
            budgetPerDay: z.number(),
            usedToday: z.number(),
            items: z.array(cycleSchema.extend({ finishedAt: z.string().nullable() })),
          }),
          ...errors(401),
        },
      },
    },
    async () => {
      const { repo, clock, config } = app.ops;
      return {
        budgetPerDay: config.CYCLES_PER_DAY,
        usedToday: repo.cyclesOnDay(clock.now().toISOString().slice(0, 10)),
        items: repo.recentCycles(50).map((cycle) => ({
          id: cycle.id,
          status: cycle.status,
          startedAt: cycle.startedAt,
          finishedAt: cycle.finishedAt,
          actions: JSON.parse(cycle.actions) as Array<{ step: string; outcome: string }>,
        })),
      };
    },
  );
}
