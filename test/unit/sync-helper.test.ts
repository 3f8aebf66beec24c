import { describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { syncfs } from '../../src/store/sync-helper.js';
import { syncFilesystem } from '../../src/store/index.js';
import { tempDirs } from '../support/temp-dirs.js';

const tempDir = tempDirs();

describe('syncfs through one long-lived helper', () => {
  it('answers each path in order, a failure with sync\'s own message, and keeps serving after it', async () => {
    const dir = await tempDir('cs-sync-');
    const odd = join(dir, 'a\nb');
    await mkdir(odd);
    const results = await Promise.allSettled([
      syncfs(dir),
      syncfs(join(dir, 'missing')),
      syncfs(dir),
      syncfs(odd), // a newline: the line protocol cannot carry it, a process of its own does
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).toMatch(/missing/);
    await expect(syncFilesystem(join(dir, 'gone'))).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/^syncing .*gone: .*gone/) });
    await expect(syncfs(dir)).resolves.toBeUndefined();
  });

  it('does not keep a process alive once its syncs are answered', async () => {
    const dir = await tempDir('cs-sync-');
    // The build's module (npm test builds first), in a process of its own.
    const module = resolve('dist/src/store/sync-helper.js');
    const started = Date.now();
    const out = await new Promise<string>((done, fail) => {
      execFile(process.execPath, ['--input-type=module', '-e', `import(${JSON.stringify(module)}).then((m) => m.syncfs(${JSON.stringify(dir)})).then(() => console.log('synced'))`],
        { timeout: 20_000 }, (err, stdout) => (err ? fail(err) : done(stdout)));
    });
    expect(out.trim()).toBe('synced');
    expect(Date.now() - started).toBeLessThan(20_000);
  });
});
