import { describeServiceContract } from '@studio/service-kit/testing';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';

describeServiceContract({
  name: 'webhookvault',
  loadConfig,
  buildApp,
  hasAccounts: true,
  requiredEnvironment: { WEBHOOKVAULT_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64') },
});
