import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';
import type { ClientFeatures } from '../src/evaluation/types';

/** 21 flags in the mix a real application has: on/off, user lists, rollouts, constraints, variants, a segment. */
export function twentyOneFlags(): ClientFeatures {
  const features: ClientFeatures['features'] = [];
  for (let n = 0; n < 21; n++) {
    const name = `flag-${n}`;
    const kind = n % 7;
    const strategies =
      kind === 0
        ? [{ name: 'default', parameters: {} }]
        : kind === 1
          ? [{ name: 'userWithId', parameters: { userIds: 'user-1,user-2,user-3' } }]
          : kind === 2
            ? [
                {
                  name: 'flexibleRollout',
                  parameters: { rollout: '50', stickiness: 'default', groupId: name },
                },
              ]
            : kind === 3
              ? [
                  {
                    name: 'flexibleRollout',
                    parameters: { rollout: '30', stickiness: 'userId', groupId: name },
                    constraints: [{ contextName: 'country', operator: 'IN', values: ['NO', 'SE', 'DK'] }],
                  },
                ]
              : kind === 4
                ? [
                    {
                      name: 'default',
                      parameters: {},
                      constraints: [{ contextName: 'appVersion', operator: 'SEMVER_GTE', value: '1.2.0' }],
                    },
                  ]
                : kind === 5
                  ? [{ name: 'default', parameters: {}, segments: [1] }]
                  : [
                      {
                        name: 'flexibleRollout',
                        parameters: { rollout: '100', stickiness: 'default', groupId: name },
                      },
                    ];
    features.push({
      name,
      enabled: n !== 20,
      strategies,
      variants:
        kind === 6
          ? [
              { name: 'a', weight: 500, stickiness: 'default', payload: { type: 'string', value: 'A' } },
              {
                name: 'b',
                weight: 500,
                stickiness: 'default',
                payload: { type: 'json', value: '{"b":true}' },
              },
            ]
          : [],
    });
  }
  return {
    version: 2,
    features,
    segments: [
      {
        id: 1,
        name: 'beta',
        constraints: [{ contextName: 'plan', operator: 'IN', values: ['beta', 'pro'] }],
      },
    ],
  };
}

/** A FlagBit on a temp SQLite file, listening on a free port, with one account holding the 21 flags. */
export async function startSeededFlagBit() {
  const directory = mkdtempSync(join(tmpdir(), 'flagbit-bench-'));
  const app = await buildApp(loadConfig({ INTERNAL_TOKEN: 'b'.repeat(64), DATA_DIR: directory }), {
    logger: false,
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  const base = `http://127.0.0.1:${address.port}`;
  const signup = await app.inject({
    method: 'POST',
    url: '/v1/signup',
    payload: { email: `bench-${Date.now()}@example.com` },
  });
  const key = signup.json().apiKey as string;
  const admin = (method: 'GET' | 'POST' | 'PATCH', url: string, payload?: unknown) =>
    app.inject({
      method,
      url,
      headers: { authorization: `Bearer ${key}` },
      ...(payload ? { payload: payload as object } : {}),
    });
  const imported = await admin('POST', '/api/admin/environments/development/import', twentyOneFlags());
  if (imported.statusCode !== 200) throw new Error(imported.body);
  const token = async (type: 'backend' | 'frontend') =>
    (await admin('POST', '/api/admin/tokens', { type, environment: 'development' })).json().secret as string;
  return { app, base, key, admin, token };
}
