import type { ServiceInstance } from '@studio/service-kit';
import { accountOf } from '@studio/shared-billing';
import { registerFlagRoutes } from './flags';
import { registerOperationRoutes } from './operations';
import { registerProjectEnvironmentRoutes } from './projects-environments';

/**
 * The admin API: `Authorization: Bearer <account key>` (the account key is the admin token). The account's
 * project `default` and environments `development` and `production` are created on its first admin request.
 */
export async function adminRoutes(app: ServiceInstance) {
  app.addHook('onRequest', app.requireAccount);
  app.addHook('onRequest', async (request) => {
    app.flagbit.store.ensureDefaults(accountOf(request).id);
  });
  registerProjectEnvironmentRoutes(app);
  registerFlagRoutes(app);
  registerOperationRoutes(app);
}
