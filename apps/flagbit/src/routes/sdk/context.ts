import type { Context } from '../../evaluation/types';

const topLevel = new Set(['userId', 'sessionId', 'remoteAddress', 'environment', 'appName', 'currentTime']);

/**
 * Builds an evaluation context the way Unleash's frontend API does (`createContext`): the known fields stay
 * at the top, `properties` is kept, and any other field becomes a property. Query strings may also say
 * `properties[name]=value`. The caller's address is the default `remoteAddress`.
 */
export function buildContext(input: Record<string, unknown>, remoteAddress: string): Context {
  const context: Context = { properties: {} };
  const properties = context.properties as Record<string, string>;
  for (const [key, raw] of Object.entries(input)) {
    if (raw === undefined || raw === null) continue;
    const value = Array.isArray(raw) ? raw[0] : raw;
    if (key === 'properties' && typeof value === 'object' && value !== null) {
      for (const [name, v] of Object.entries(value as Record<string, unknown>)) {
        if (v !== undefined && v !== null && typeof v !== 'object') properties[name] = String(v);
      }
      continue;
    }
    if (typeof value === 'object') continue;
    const bracket = /^properties\[([^\]]+)\]$/.exec(key);
    if (bracket?.[1]) properties[bracket[1]] = String(value);
    else if (topLevel.has(key)) context[key] = String(value);
    else properties[key] = String(value);
  }
  context.remoteAddress ??= remoteAddress;
  return context;
}
