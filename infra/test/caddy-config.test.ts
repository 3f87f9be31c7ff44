import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { caddyAvailable, repositoryRoot, tempDirectory } from './studio-harness';

// CI runs these: `caddy validate` and `caddy fmt` are the Caddyfile's lint.
const hasCaddy = caddyAvailable();
if (!hasCaddy && process.env.CI) throw new Error('caddy is not installed, and CI must check the Caddyfile');

const caddyfile = join(repositoryRoot, 'infra', 'Caddyfile');
const home = tempDirectory('caddy-config');
afterAll(() => rmSync(home, { recursive: true, force: true }));

/** Runs caddy with only these variables set (none of the developer's CADDY_* or *_HOST leak in). */
function caddy(args: string[], variables: Record<string, string> = {}) {
  const result = spawnSync('caddy', args, {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '',
      HOME: home,
      XDG_DATA_HOME: home,
      XDG_CONFIG_HOME: home,
      ...variables,
    },
  });
  return { code: result.status, stdout: result.stdout, output: `${result.stdout}\n${result.stderr}` };
}

interface AdaptedConfig {
  admin?: { disabled?: boolean; listen?: string };
  apps: {
    http: {
      servers: Record<
        string,
        { listen: string[]; automatic_https?: { disable?: boolean }; routes: unknown[] }
      >;
    };
  };
}

function adapt(variables: Record<string, string> = {}): AdaptedConfig {
  const result = caddy(['adapt', '--config', caddyfile, '--adapter', 'caddyfile'], variables);
  expect(result.code, result.output).toBe(0);
  return JSON.parse(result.stdout) as AdaptedConfig;
}

const productionHosts = {
  DOCUMINT_HOST: 'documint.example.com',
  CRONPING_HOST: 'cronping.example.com',
  FLAGBIT_HOST: 'flagbit.example.com',
  WEBHOOKVAULT_HOST: 'webhookvault.example.com',
  OPS_HOST: 'ops.example.com',
};
const productionAddress = [...Object.values(productionHosts), 'studio.example.com'].join(', ');

describe.skipIf(!hasCaddy)('infra/Caddyfile', () => {
  it('validates with no variable set', () => {
    const result = caddy(['validate', '--config', caddyfile, '--adapter', 'caddyfile']);
    expect(result.code, result.output).toBe(0);
    expect(result.output).toContain('Valid configuration');
  });

  it('validates with the product host names set and the default listener', () => {
    const result = caddy(['validate', '--config', caddyfile, '--adapter', 'caddyfile'], productionHosts);
    expect(result.code, result.output).toBe(0);
  });

  it('validates with every variable set, as in production', () => {
    const result = caddy(['validate', '--config', caddyfile, '--adapter', 'caddyfile'], {
      ...productionHosts,
      CADDY_ADDRESS: productionAddress,
      CADDY_ADMIN: 'localhost:2999',
      CADDY_HTTP_PORT: '8081',
      CADDY_HTTPS_PORT: '8443',
      OPS_AGENT_UPSTREAM: '10.0.0.2:4100',
      DOCUMINT_UPSTREAM: '10.0.0.2:4101',
      CRONPING_UPSTREAM: '10.0.0.2:4102',
      FLAGBIT_UPSTREAM: '10.0.0.2:4103',
      WEBHOOKVAULT_UPSTREAM: '10.0.0.2:4104',
    });
    expect(result.code, result.output).toBe(0);
  });

  it('is formatted as caddy fmt formats it', () => {
    const result = caddy(['fmt', caddyfile]);
    expect(result.code, result.output).toBe(0);
    expect(result.stdout, 'run: caddy fmt --overwrite infra/Caddyfile').toBe(readFileSync(caddyfile, 'utf8'));
  });

  it('listens on :8080 and the local admin address only, by default, with no HTTPS listener', () => {
    const config = adapt();
    const servers = Object.values(config.apps.http.servers);
    expect(servers.map((server) => server.listen)).toEqual([[':8080']]);
    expect(config.admin?.listen ?? 'localhost:2019').toBe('localhost:2019');
  });

  it('listens on the CADDY_ADDRESS port alone, and turns the admin API off with CADDY_ADMIN=off', () => {
    const config = adapt({ CADDY_ADDRESS: 'http://127.0.0.1:18080', CADDY_ADMIN: 'off' });
    expect(Object.values(config.apps.http.servers).map((server) => server.listen)).toEqual([[':18080']]);
    expect(config.admin?.disabled).toBe(true);
  });

  it('serves bare host names over HTTPS with automatic certificates, as production sets them', () => {
    const config = adapt({ ...productionHosts, CADDY_ADDRESS: productionAddress });
    const servers = Object.values(config.apps.http.servers);
    expect(servers.map((server) => server.listen)).toEqual([[':443']]);
    expect(servers[0]?.automatic_https?.disable, 'automatic HTTPS stays on').toBeUndefined();
    const routing = JSON.stringify(servers[0]?.routes);
    for (const host of Object.values(productionHosts)) expect(routing).toContain(`"${host}"`);
    expect(routing).toContain('Strict-Transport-Security');
  });
});
