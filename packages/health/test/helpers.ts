import type { Probe, ProbeResult } from '../src/probes';

export type Deferred<T> = {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (error: unknown) => void;
};

/** A promise the test settles by hand, so ordering is proven without waiting on the clock. */
export function deferred<T>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

export const fixedClock =
  (iso = '2025-01-02T03:04:05.000Z') =>
  () =>
    new Date(iso);

export function probe(overrides: Partial<Probe> & { name: string }): Probe {
  return {
    critical: true,
    timeoutMs: 1000,
    check: (): ProbeResult => ({ status: 'pass' }),
    ...overrides,
  };
}
