/**
 * Bad input, config: every field of swarm.config.json (enumerated from the example config at the
 * repository root, so a new field is covered without editing this test) given a value of the wrong
 * type or range, and every section given an unknown key, is refused with E_CONFIG naming the field.
 */
import { describe, expect, it } from 'vitest';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../../bench/lib/results.js';
import { parseConfig } from '../../src/config/index.js';
import { isChunkswarmError } from '../../src/core/index.js';
import { declareCases } from './record.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Wrong for the field whatever its schema: another JSON type, or out of range for numbers. */
function wrongValues(v: Json): Json[] {
  if (typeof v === 'number') return ['12', -1, 1.5];
  if (typeof v === 'string') return [42, ''];
  if (typeof v === 'boolean') return ['yes'];
  if (Array.isArray(v)) return ['not a list', [42]];
  if (v === null) return [42];
  return ['not an object'];
}

/** [dotted field path, config with that field broken] for every leaf and section of `example`. */
function cases(example: { [k: string]: Json }): Array<[string, Json, unknown]> {
  const out: Array<[string, Json, unknown]> = [];
  const visit = (node: Json, path: string[]) => {
    const field = path.join('.');
    if (path.length > 0) for (const bad of wrongValues(node)) out.push([field, bad, setAt(example, path, bad)]);
    if (node !== null && typeof node === 'object' && !Array.isArray(node)) {
      out.push([path.length > 0 ? field : '(root)', 'unknown key', setAt(example, [...path, 'surplus'], 1)]);
      for (const [k, child] of Object.entries(node)) visit(child, [...path, k]);
    }
  };
  visit(example, []);
  return out;
}

function setAt(obj: Json, path: string[], value: Json): Json {
  if (path.length === 0) return value;
  const [head, ...rest] = path;
  const copy = structuredClone(obj) as { [k: string]: Json };
  copy[head!] = setAt(copy[head!] ?? {}, rest, value);
  return copy;
}

function refusal(raw: unknown): string {
  try {
    parseConfig(raw, '/etc/chunkswarm/swarm.config.json');
  } catch (err) {
    if (isChunkswarmError(err, 'E_CONFIG')) return err.message;
    return `not E_CONFIG: ${String(err)}`;
  }
  return 'accepted';
}

describe('bad input: config', () => {
  it('names the field of every invalid value and unknown key', async (ctx) => {
    const example = JSON.parse(await readFile(join(repoRoot, 'swarm.config.json'), 'utf8')) as { [k: string]: Json };
    // The example has no publisher section; a publisher's config does.
    example.publisher = { privateKeyFile: 'publisher.key', recordOwner: false };
    example.network = { ...(example.network as object), allowlist: ['ab'.repeat(32)] };
    const table = cases(example);
    const meta = declareCases(ctx, { kind: 'bad-input', group: 'config', tried: table.length });
    expect(refusal(example)).toBe('accepted');
    const wrong: string[] = [];
    for (const [field, bad, raw] of table) {
      const message = refusal(raw);
      // A bad array element is named by its index (network.bootstrap.0).
      const named = message.includes(`config field "${field}`) && (bad !== 'unknown key' || message.includes('surplus'));
      if (!named) wrong.push(`${field} = ${JSON.stringify(bad)}: ${message}`);
    }
    meta.notes = [`${table.length} invalid configs over ${new Set(table.map((t) => t[0])).size} fields and sections`];
    expect(wrong).toEqual([]);
    expect(table.length).toBeGreaterThan(50);
  });
});
