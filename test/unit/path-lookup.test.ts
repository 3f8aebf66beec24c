import { describe, expect, it } from 'vitest';
import { asObjectHash } from '../../src/core/index.js';
import { PathLookup, type TreeEntry, type TreeObject } from '../../src/manifest/index.js';

const h = (s: string) => asObjectHash(s.padEnd(64, '0'));
const file = (name: string, hash: string): TreeEntry => ({ name, type: 'file', hash: h(hash), mode: 0o644, mtime: 0 });
const dirOf = (name: string, hash: string): TreeEntry => ({ name, type: 'dir', hash: h(hash), mode: 0o755, mtime: 0 });

describe('PathLookup', () => {
  it('finds entries by path, loading each directory on the way once, and nothing below a file', async () => {
    const trees = new Map<string, TreeObject>([
      [h('a0'), { kind: 'tree', entries: [dirOf('etc', 'b0'), file('top', 'f1')] }],
      [h('b0'), { kind: 'tree', entries: [file('app.conf', 'f2'), dirOf('deep', 'c0')] }],
      [h('c0'), { kind: 'tree', entries: [file('value', 'f3')] }],
    ]);
    const loaded: string[] = [];
    const lookup = new PathLookup(h('a0'), async (hash) => {
      loaded.push(hash.slice(0, 2));
      return trees.get(hash)!;
    });
    expect((await lookup.entry('etc/deep/value'))?.hash).toBe(h('f3'));
    expect((await lookup.entry('etc/app.conf'))?.hash).toBe(h('f2'));
    expect((await lookup.entry('top'))?.hash).toBe(h('f1'));
    expect(await lookup.entry('etc/missing/x')).toBeUndefined();
    expect(await lookup.entry('top/under-a-file')).toBeUndefined();
    expect(loaded).toEqual(['a0', 'b0', 'c0']);
  });
});
