/**
 * The error catalog, the exported types and the README's table must agree: a
 * code added to one and not the others fails here (or in the typecheck).
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  deserializeError,
  ERROR_CATALOG,
  ERROR_CODES,
  MeshError,
  type MeshErrorCode,
  serializeError,
} from '../../src/index.js';

const root = join(import.meta.dirname, '..', '..');

/** The rows of the README's "## Errors" table: code -> retryable column. */
function readmeTable(): Map<string, string> {
  const text = readFileSync(join(root, 'README.md'), 'utf8');
  const start = text.indexOf('\n## Errors');
  expect(start, 'README.md has an "## Errors" section').toBeGreaterThan(0);
  const section = text.slice(start, text.indexOf('\n## ', start + 5));
  const rows = new Map<string, string>();
  for (const m of section.matchAll(/^\| `([A-Z_]+)` \| (yes|no) \|/gm))
    rows.set(m[1] as string, m[2] as string);
  return rows;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('error catalog', () => {
  it('every code of the catalog is in the README table with its retryable flag, and nothing else is', () => {
    const rows = readmeTable();
    const codes = Object.keys(ERROR_CATALOG);
    expect([...rows.keys()].sort()).toEqual([...codes].sort());
    for (const code of codes)
      expect(rows.get(code), code).toBe(ERROR_CATALOG[code as MeshErrorCode].retryable ? 'yes' : 'no');
  });

  it('the exported type names exactly the catalog codes', () => {
    // A code missing from either side is a type error (npm run typecheck).
    const all: Record<MeshErrorCode, true> = {
      NOT_FOUND: true,
      INVALID_PARAMS: true,
      TIMEOUT: true,
      CONFLICT: true,
      ACCESS_DENIED: true,
      CONFIG_INVALID: true,
      NOT_STARTED: true,
      STOPPED: true,
      BACKEND_ERROR: true,
      NETWORK_ERROR: true,
      UNAVAILABLE: true,
      TOO_LARGE: true,
    };
    expect(Object.keys(all).sort()).toEqual(Object.keys(ERROR_CATALOG).sort());
    expect(Object.keys(ERROR_CODES).sort()).toEqual(Object.keys(ERROR_CATALOG).sort());
  });

  it('every code the sources raise is in the catalog', () => {
    const used = new Set<string>();
    for (const file of sourceFiles(join(root, 'src'))) {
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/new MeshError\(\s*'([A-Z_]+)'/g)) used.add(m[1] as string);
    }
    expect(used.size).toBeGreaterThan(5);
    for (const code of used) expect(Object.keys(ERROR_CATALOG), code).toContain(code);
  });

  it('a MeshError survives its serialized form (through JSON) with code, message, details and retryable', () => {
    const err = new MeshError('UNAVAILABLE', 'member left', { peer: 'abc', path: 'user/get' });
    const back = deserializeError(JSON.parse(JSON.stringify(serializeError(err))));
    expect(back).toBeInstanceOf(MeshError);
    expect(back).toMatchObject({
      code: 'UNAVAILABLE',
      message: 'member left',
      details: { peer: 'abc', path: 'user/get' },
    });
    expect((back as MeshError).retryable).toBe(true);
    expect(new MeshError('INVALID_PARAMS', 'x').retryable).toBe(false);
  });

  it('another error arrives as an Error with its name, message and code; a thrown string as an Error', () => {
    const err = Object.assign(new RangeError('too far'), { code: 'E_FAR' });
    const back = deserializeError(serializeError(err)) as Error & { code?: string };
    expect(back).not.toBeInstanceOf(MeshError);
    expect([back.name, back.message, back.code]).toEqual(['RangeError', 'too far', 'E_FAR']);
    expect(deserializeError(serializeError('plain'))).toMatchObject({ name: 'Error', message: 'plain' });
    // A code this node does not know (a newer peer) is kept, not turned into a wrong MeshError.
    const unknown = deserializeError({ name: 'MeshError', message: 'm', code: 'FUTURE_CODE' }) as Error & {
      code?: string;
    };
    expect(unknown).not.toBeInstanceOf(MeshError);
    expect(unknown.code).toBe('FUTURE_CODE');
  });
});
