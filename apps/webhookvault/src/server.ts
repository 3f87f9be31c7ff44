#!/usr/bin/env node
import { runServiceCli } from '@studio/service-kit';
import { buildApp } from './app';
import { loadConfig } from './config';
import { database } from './database';

await runServiceCli({ name: 'webhookvault', loadConfig, database, buildApp, urlSecrets: [/^\/h\/([^/?]+)/] });
