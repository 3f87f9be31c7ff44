export * from './cli';
export * from './database';
export * from './migrations';
export * from './probes';
export * from './restore';
