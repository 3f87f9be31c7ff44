import type { VaultRepository } from './repository';
import type { Vault } from './vault';

const BATCH = 500;

/**
 * Re-encrypts every record sealed with a key other than the current one (captures and endpoints' signature
 * secrets), in batches of one transaction each so the service can keep writing meanwhile. Needs the old keys in
 * WEBHOOKVAULT_PREVIOUS_KEYS; a record whose key is unknown stops the run with a message naming its key id.
 */
export function rotateKeys(
  repository: VaultRepository,
  vault: Vault,
): { captures: number; endpoints: number } {
  let captures = 0;
  for (;;) {
    const rows = repository.capturesSealedWithOtherKey(vault.currentKeyId, BATCH);
    if (rows.length === 0) break;
    repository.resealCaptures(
      rows.map((row) => ({ seq: row.seq, sealed: vault.seal(vault.open(row.sealed, row.id), row.id) })),
    );
    captures += rows.length;
  }
  let endpoints = 0;
  for (const endpoint of repository.endpointsSealedWithOtherKey(vault.currentKeyId)) {
    if (!endpoint.verify) continue;
    repository.resealEndpointSecret(
      endpoint.id,
      vault.seal(vault.open(endpoint.verify.secret, endpoint.id), endpoint.id),
    );
    endpoints += 1;
  }
  return { captures, endpoints };
}
