import type { ErrorDetail } from '@studio/service-kit';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';

/**
 * JSON Schema (draft-07) validation of template data. Every problem is reported, each with a JSON pointer
 * into the request body (`/data/items/0/quantity`), so a caller fixes all of them in one round trip.
 */
export class DataValidator {
  private readonly ajv: Ajv;
  private readonly cache = new Map<string, ValidateFunction>();

  constructor(private readonly cacheSize = 500) {
    this.ajv = new Ajv({ allErrors: true, strict: false, useDefaults: false });
    addFormats.default(this.ajv);
  }

  /** Null when the schema compiles; otherwise why it does not. */
  checkSchema(schema: unknown): string | null {
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
      return 'a template schema must be a JSON Schema object';
    }
    try {
      this.ajv.compile(schema as Record<string, unknown>);
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  }

  /** Compiled validators are kept per template version: compiling is far slower than validating. */
  validate(key: string, schema: Record<string, unknown>, data: unknown): ErrorDetail[] {
    let validate = this.cache.get(key);
    if (!validate) {
      validate = this.ajv.compile(schema);
      if (this.cache.size >= this.cacheSize) {
        const oldest = this.cache.keys().next().value;
        if (oldest !== undefined) this.cache.delete(oldest);
      }
      this.cache.set(key, validate);
    }
    if (validate(data)) return [];
    return (validate.errors ?? []).slice(0, 100).map(toDetail);
  }
}

const escapePointer = (segment: string) => segment.replaceAll('~', '~0').replaceAll('/', '~1');

function toDetail(error: ErrorObject): ErrorDetail {
  const params = error.params as Record<string, unknown>;
  if (error.keyword === 'required' && typeof params.missingProperty === 'string') {
    return {
      path: `/data${error.instancePath}/${escapePointer(params.missingProperty)}`,
      message: 'is required',
    };
  }
  if (error.keyword === 'additionalProperties' && typeof params.additionalProperty === 'string') {
    return {
      path: `/data${error.instancePath}/${escapePointer(params.additionalProperty)}`,
      message: 'is not allowed by the template schema',
    };
  }
  return { path: `/data${error.instancePath}`, message: error.message ?? 'is invalid' };
}
