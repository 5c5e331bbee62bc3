/**
 * Request schemas for the IPC boundary: small combinators that validate an unknown value,
 * report every bad field by path, and give the TypeScript type of what they accept. Requests
 * arrive from a renderer we treat as hostile; nothing reaches a handler unvalidated.
 */
import { problem } from '../docs/problems.js';
import type { Problem } from '../docs/problems.js';

export interface Schema<T> {
  readonly describe: string;
  check(v: unknown, path: string, problems: Problem[]): T | undefined;
}

export type Infer<S> = S extends Schema<infer T> ? T : never;

const bad = (problems: Problem[], path: string, message: string): undefined => {
  problems.push(problem('IPC_BAD_REQUEST', path, message));
  return undefined;
};

export function str(opts: { min?: number; max: number; pattern?: RegExp; what?: string }): Schema<string> {
  return {
    describe: opts.what ?? 'string',
    check(v, path, problems) {
      if (typeof v !== 'string') return bad(problems, path, `expected ${opts.what ?? 'a string'}`);
      if (v.length < (opts.min ?? 0) || v.length > opts.max) return bad(problems, path, `expected ${opts.min ?? 0} to ${opts.max} characters`);
      if (opts.pattern !== undefined && !opts.pattern.test(v)) return bad(problems, path, `expected ${opts.what ?? opts.pattern.source}`);
      return v;
    },
  };
}

export function int(opts: { min: number; max: number }): Schema<number> {
  return {
    describe: 'integer',
    check(v, path, problems) {
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < opts.min || v > opts.max) return bad(problems, path, `expected a whole number from ${opts.min} to ${opts.max}`);
      return v;
    },
  };
}

export function bool(): Schema<boolean> {
  return { describe: 'boolean', check: (v, path, problems) => (typeof v === 'boolean' ? v : bad(problems, path, 'expected true or false')) };
}

export function oneOf<const T extends readonly string[]>(values: T): Schema<T[number]> {
  return {
    describe: values.join('|'),
    check: (v, path, problems) => (typeof v === 'string' && (values as readonly string[]).includes(v) ? (v as T[number]) : bad(problems, path, `expected one of ${values.join(', ')}`)),
  };
}

export function arr<T>(item: Schema<T>, opts: { min?: number; max: number }): Schema<T[]> {
  return {
    describe: `${item.describe}[]`,
    check(v, path, problems) {
      if (!Array.isArray(v)) return bad(problems, path, 'expected an array');
      if (v.length < (opts.min ?? 0) || v.length > opts.max) return bad(problems, path, `expected ${opts.min ?? 0} to ${opts.max} entries`);
      const before = problems.length;
      const out = v.map((x, i) => item.check(x, `${path}[${i}]`, problems));
      return problems.length === before ? (out as T[]) : undefined;
    },
  };
}

type Fields = Record<string, Schema<unknown>>;
type Out<R extends Fields, O extends Fields> = { [K in keyof R]: Infer<R[K]> } & { [K in keyof O]?: Infer<O[K]> };

/** A closed object: unknown members are refused, like the documents. */
export function obj<R extends Fields, O extends Fields = Record<never, never>>(required: R, optional?: O): Schema<Out<R, O>> {
  return {
    describe: 'object',
    check(v, path, problems) {
      if (v === null || typeof v !== 'object' || Array.isArray(v) || Object.getPrototypeOf(v) !== Object.prototype) return bad(problems, path, 'expected a plain object');
      const before = problems.length;
      const rec = v as Record<string, unknown>;
      const out: Record<string, unknown> = {};
      // own properties only: `in` would accept inherited names such as toString or constructor
      for (const k of Object.keys(rec)) if (!Object.hasOwn(required, k) && !(optional !== undefined && Object.hasOwn(optional, k))) bad(problems, `${path}.${k}`, 'unknown member');
      for (const [k, s] of Object.entries(required)) {
        if (!Object.hasOwn(rec, k)) { bad(problems, `${path}.${k}`, 'required'); continue; }
        out[k] = s.check(rec[k], `${path}.${k}`, problems);
      }
      for (const [k, s] of Object.entries(optional ?? {})) {
        if (Object.hasOwn(rec, k) && rec[k] !== undefined) out[k] = s.check(rec[k], `${path}.${k}`, problems);
      }
      return problems.length === before ? (out as Out<R, O>) : undefined;
    },
  };
}

export function parseRequest<T>(schema: Schema<T>, v: unknown): { ok: true; value: T } | { ok: false; problems: Problem[] } {
  const problems: Problem[] = [];
  const value = schema.check(v, 'request', problems);
  return problems.length === 0 ? { ok: true, value: value as T } : { ok: false, problems };
}
