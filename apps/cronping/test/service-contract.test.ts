import { describeServiceContract } from '@studio/service-kit/testing';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';

describeServiceContract({ name: 'cronping', loadConfig, buildApp, hasAccounts: true });
