/**
 * Loaded with `node --import` into a CLI process: when it exits, writes to stderr one line,
 * `LOADED-PACKAGES ["name", ...]`, the npm packages whose CommonJS modules it loaded.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { _cache: cache } = require('node:module') as { _cache: Record<string, unknown> };

process.on('exit', () => {
  const names = Object.keys(cache).flatMap((path) => {
    const m = /.*node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
    return m ? [m[1]!] : [];
  });
  process.stderr.write(`LOADED-PACKAGES ${JSON.stringify([...new Set(names)])}\n`);
});
