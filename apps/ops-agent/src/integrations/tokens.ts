import type { Config } from '../config';
import type { Vault } from '../owner/vault';
import type { Repository } from '../repository';

/**
 * Integration tokens the owner may store from the page instead of the environment, sealed with AES-256-GCM
 * under OPS_VAULT_KEY (the vault), each under its own authenticated context so a sealed value cannot be
 * moved to another token's slot.
 *
 * Precedence: the environment wins. A variable that is set is what the deployment says, and the page shows
 * it as "from the environment" with its form disabled; a stored token is used only while the variable is
 * unset. (An empty variable never gets this far: it is a start-up error naming it.) Tokens are read on each
 * use, so a token stored from the page takes effect at once, without a restart.
 */
export const storableTokens = {
  GHOST_ADMIN_API_KEY: {
    label: 'Ghost Admin API key',
    pattern: /^[0-9a-f]+:[0-9a-f]+$/i,
    shape: '<id>:<hex secret>',
  },
  DEVTO_API_KEY: { label: 'Dev.to API key', pattern: /^\S{8,200}$/, shape: '8-200 characters, no spaces' },
  LISTMONK_TOKEN: {
    label: 'Listmonk API token',
    pattern: /^\S{8,200}$/,
    shape: '8-200 characters, no spaces',
  },
  PLAUSIBLE_API_KEY: {
    label: 'Plausible Stats API key',
    pattern: /^\S{8,200}$/,
    shape: '8-200 characters, no spaces',
  },
} as const;

export type StorableToken = keyof typeof storableTokens;
export const storableTokenNames = Object.keys(storableTokens) as StorableToken[];
export type TokenSource = 'environment' | 'stored' | 'not set';

const settingKey = (name: StorableToken) => `token:${name}`;
const contextOf = (name: StorableToken) => `integration-token:${name}`;

export function isStorableToken(name: string): name is StorableToken {
  return Object.hasOwn(storableTokens, name);
}

export function createTokenStore(deps: { config: Config; repo: Repository; vault: Vault }) {
  const { config, repo, vault } = deps;
  return {
    /** The token to use now: the environment's, else the stored one, else undefined. */
    get(name: StorableToken): string | undefined {
      const fromEnvironment = config[name];
      if (fromEnvironment !== undefined) return fromEnvironment;
      const sealed = repo.setting(settingKey(name));
      return sealed === undefined ? undefined : vault.open(sealed, contextOf(name));
    },
    source(name: StorableToken): TokenSource {
      if (config[name] !== undefined) return 'environment';
      return repo.setting(settingKey(name)) === undefined ? 'not set' : 'stored';
    },
    has(name: StorableToken): boolean {
      return config[name] !== undefined || repo.setting(settingKey(name)) !== undefined;
    },
    /** Seals and stores a token; throws a message for the owner when the environment owns it or it looks wrong. */
    store(name: StorableToken, value: string): void {
      const spec = storableTokens[name];
      if (config[name] !== undefined) {
        throw new Error(
          `${name} is set in the environment, which takes precedence; unset it to store one here`,
        );
      }
      if (!spec.pattern.test(value)) throw new Error(`${spec.label} must be ${spec.shape}`);
      repo.transaction(() => repo.putSetting(settingKey(name), vault.seal(value, contextOf(name))))();
    },
    remove(name: StorableToken): void {
      repo.transaction(() => repo.deleteSetting(settingKey(name)))();
    },
  };
}

export type TokenStore = ReturnType<typeof createTokenStore>;
