import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runAgentCli } from '../src/cli';
import { loadConfig } from '../src/config';
import { parsePasswordHash, verifyPassword } from '../src/owner/password';
import { agentEnv, startProduct, tempDir } from './harness';

function io(stdin = '') {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    io: {
      stdout: (t: string) => out.push(t),
      stderr: (t: string) => err.push(t),
      readStdin: async () => stdin,
    },
  };
}

describe('the ops-agent command line', () => {
  it('hash-password prints a hash that OWNER_PASSWORD_HASH accepts and that verifies the password', async () => {
    const { out, io: cliIo } = io('a long owner password\n');
    expect(await runAgentCli(['hash-password'], () => loadConfig(agentEnv()), cliIo)).toBe(0);
    const hash = out.join('').trim();
    expect(hash).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]+\$[A-Za-z0-9+/=]+$/);
    expect(await verifyPassword('a long owner password', parsePasswordHash(hash))).toBe(true);
    expect(loadConfig(agentEnv({ OWNER_PASSWORD_HASH: hash })).OWNER_PASSWORD_HASH).toBeDefined();
  });

  it('hash-password refuses a short password', async () => {
    const { err, io: cliIo } = io('short\n');
    expect(await runAgentCli(['hash-password'], () => loadConfig(agentEnv()), cliIo)).toBe(64);
    expect(err.join('')).toMatch(/at least 12 characters/);
  });

  it('audit prints the report and exits 2 when a product fails; post, queue and approve work on the same database', async () => {
    const product = await startProduct('cronping');
    const env = agentEnv({ CRONPING_URL: product.url });
    const load = () => loadConfig(env);

    const ok = io();
    expect(await runAgentCli(['audit'], load, ok.io)).toBe(0);
    expect(JSON.parse(ok.out.join('')).products[0].name).toBe('cronping');
    await product.stop();
    const failing = io();
    expect(await runAgentCli(['audit'], load, failing.io)).toBe(2);

    const file = join(tempDir(), 'post.md');
    writeFileSync(file, '---\ntitle: From a file\ntags: [cli]\n---\nBody text.\n');
    const posted = io();
    expect(await runAgentCli(['post', file], load, posted.io)).toBe(0);
    expect(JSON.parse(posted.out.join(''))).toMatchObject({
      title: 'From a file',
      slug: 'from-a-file',
      tags: ['cli'],
    });

    const empty = io();
    expect(await runAgentCli(['queue'], load, empty.io)).toBe(0);
    expect(JSON.parse(empty.out.join(''))).toEqual({ items: [] });
    const missing = io();
    expect(await runAgentCli(['approve', 'q_missing'], load, missing.io)).toBe(1);
    expect(missing.err.join('')).toMatch(/not_found/);
    expect(await runAgentCli(['approve'], load, io().io)).toBe(64);
  });
});
