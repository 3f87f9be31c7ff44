import { describeServiceContract } from '@studio/service-kit/testing';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';

describeServiceContract({ name: 'ops-agent', loadConfig, buildApp, hasAccounts: false });
