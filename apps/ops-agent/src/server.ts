#!/usr/bin/env node
import { loadConfigOrExit, runServiceCli } from '@studio/service-kit';
import { buildApp } from './app';
import { isAgentCommand, runAgentCli } from './cli';
import { loadConfig } from './config';
import { database } from './database';

const args = process.argv.slice(2);
if (isAgentCommand(args[0])) {
  const code = await runAgentCli(args, () => loadConfigOrExit(() => loadConfig()), {
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
  });
  process.exit(code);
} else {
  await runServiceCli({ name: 'ops-agent', loadConfig, database, buildApp });
}
