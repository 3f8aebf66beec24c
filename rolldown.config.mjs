// The CLI as one bundle (plus the chunks of what it loads lazily): node resolves, reads and
// compiles ~200 ES modules at every start otherwise (99 of ours, 94 of zod's), 0.1–0.15 s of each
// `publish`, `verify` or `status`. Bundled: our code (tsc's output) and the two libraries every
// command loads. Left to node_modules: native code, worker threads, and what only `serve` needs.
const BUNDLED = new Set(['zod', 'commander']);

export default {
  // copy-worker, lstat-worker: worker threads (src/admin/copy-workers.ts, src/core/lstat-ahead.ts), found beside the chunk that starts them.
  input: { chunkswarm: 'dist/src/cli/main.js', 'copy-worker': 'dist/src/admin/copy-worker.js', 'lstat-worker': 'dist/src/core/lstat-worker.js' },
  platform: 'node',
  external: (id) => {
    if (id.startsWith('.') || id.startsWith('/') || id.startsWith('node:')) return id.startsWith('node:');
    const name = id.startsWith('@') ? id.split('/').slice(0, 2).join('/') : id.split('/')[0];
    return !BUNDLED.has(name);
  },
  output: {
    // Three levels below the repository, as dist/src/cli/program.js is: it reads ../../../package.json.
    dir: 'dist/bundle/cli',
    format: 'esm',
    // Chunk names carry a hash: a rebuild would otherwise leave the old ones beside the new.
    cleanDir: true,
    sourcemap: true,
  },
};
