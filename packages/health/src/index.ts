export * from './client';
export * from './contract';
export * from './plugin';
export * from './probes';
export * from './system-probes';
