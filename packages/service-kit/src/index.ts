export type { ZodTypeProvider } from 'fastify-type-provider-zod';
export * from './app';
export * from './clock';
export * from './config';
export * from './errors';
export * from './logger';
export * from './server';
