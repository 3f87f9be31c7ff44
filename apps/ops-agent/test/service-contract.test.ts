import { describeServiceContract } from '@studio/service-kit/testing';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';

describeServiceContract({
  name: 'ops-agent',
  loadConfig,
  buildApp,
  hasAccounts: false,
  requiredEnvironment: {
    OPS_ADMIN_TOKEN: 'a'.repeat(64),
    OPS_VAULT_KEY: Buffer.alloc(32, 1).toString('base64'),
    SCHEDULER: 'false',
  },
});
