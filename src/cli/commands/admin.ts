import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { callControl, ChunkswarmError, controlSocketPath, loadConfig, quotePath } from '../../client.js';
import type { PublishProgress, PublishSummary } from '../../index.js';
import type { EarlyQuery } from '../early-query.js';
import { library } from '../library.js';
import { formatBytes, formatFields, noteDoneByNode, printJson } from '../format.js';
import { parsePort } from '../option-parsers.js';
import { publishProgress } from '../progress.js';

function parseVersion(s: string): number {
  if (!/^\d+$/.test(s) || Number(s) < 1) throw ChunkswarmError.usage(`not a release version: ${JSON.stringify(s)}`);
  return Number(s);
}

/**
 * Whether the running node (the owner of its control socket) is this process's user: only then may
 * it publish for us, since it reads the source tree with its own rights (root publishing a tree
 * for a node running as `chunkswarm` publishes in its own process, as without a node).
 */
function nodeIsCaller(dataDir: string): boolean {
  const st = statSync(controlSocketPath(dataDir), { throwIfNoEntry: false });
  return st !== undefined && st.uid === process.getuid?.();
}

/** The commands that work on the local node only: no network. */
export function registerAdminCommands(program: Command, configPath: () => string, early: EarlyQuery | null): void {
  program
    .command('init')
    .description('create swarm.config.json and key files for a new cluster (--publisher) or a joining node (--join)')
    .option('--dir <dir>', 'directory for the config and keys', '.')
    .option('--publisher', 'start a new cluster with this node as its publisher')
    .option('--join <config>', "join the cluster of another node's swarm.config.json (copies its public key and secret)")
    .option('--bootstrap <host:port...>', 'bootstrap nodes (default: the publisher on 127.0.0.1:49737)')
    .option('--bootstrap-port <port>', 'the UDP port of the DHT bootstrap node this node runs (--publisher: 49737; --join: 49737, or a free port on loopback or where 49737 is taken)', (v: string) => parsePort(v))
    .option('--port <port>', 'network.port: the TCP port of the direct path for pieces (default 49738, or a free port on loopback or where 49738 is taken; 0: any free port at each start)', (v: string) => parsePort(v, true))
    .option('--live <path>', 'livePath: the symlink your services use (default ./live beside the config)')
    .option('--adopt', 'adoptLive: a directory (or symlink) at --live, say the tree rsync keeps up to date, is taken over by the first release: moved aside to <live>.pre-chunkswarm, kept whole, its differences recorded as drift')
    .option('--host <addr>', 'network.host: the address this node binds and others reach it on (and, with --publisher, the default bootstrap address)')
    .option('--no-allowlist', 'with --publisher: let in any node that knows the cluster secret, instead of only the nodes the publisher admits')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const { initNode } = await library();
      const r = await initNode({
        dir: o.dir, publisher: o.publisher, join: o.join, bootstrap: o.bootstrap, bootstrapPort: o.bootstrapPort,
        live: o.live, adopt: o.adopt, host: o.host, port: o.port, allowlist: o.allowlist,
      });
      if (o.json) return printJson(r);
      process.stdout.write(`created ${r.created.join(', ')}\npublisher key ${r.publisherKey}\nnode key ${r.nodeKey}\n`);
      if (o.join && r.membership && r.membershipFrom !== null) {
        process.stdout.write(`the cluster admits only the nodes its publisher signed in: on the master, run\n  chunkswarm admit ${r.nodeKey}\n(or use "chunkswarm token create" there and "chunkswarm join <token>" here instead of init --join)\n`);
      } else if (o.join && r.membership) {
        // Without any signed record this node knows no member, the publisher included: it would refuse every peer.
        process.stdout.write(
          `the cluster admits only the nodes its publisher signed in, and ${o.join} came with no signed membership to copy: ` +
            `this node lets no peer in until it holds one. On the master, run\n  chunkswarm admit ${r.nodeKey}\n` +
            `then copy the master's data/membership.json to ${r.membershipFile} before "serve" ` +
            `(or use "chunkswarm token create" there and "chunkswarm join <token>" here, which does both)\n`,
        );
      }
    });

  program
    .command('publish')
    .description('scan a source tree and publish it as a new signed release (publisher only)')
    .argument('<source-dir>', 'the master copy of the tree')
    .option('--note <text>', 'a note stored in the release', '')
    .option('--force', 'publish a new version even if nothing changed')
    .option('--allow-shrink', 'publish even if the tree lost half its files or more since the newest release (refused otherwise: an unmounted or wrong source looks like that)')
    .option('--local', 'publish in this process even if the node runs (by default its `serve` does it, with warm code, and announces it at once)')
    .option('--json', 'machine-readable output')
    .action(async (source: string, o) => {
      const config = await loadConfig(configPath());
      const bar = publishProgress(!o.json);
      const onProgress = (p: PublishProgress) => bar.update(p);
      let s: PublishSummary;
      let byNode = false;
      try {
        const prescan = early?.prescanOf(config.dataDir, resolve(source));
        const asked = o.local || !nodeIsCaller(config.dataDir) ? null : ((await callControl(
          config.dataDir,
          { op: 'publish', source: resolve(source), note: o.note, force: o.force === true, allowShrink: o.allowShrink === true, ...(prescan && { prescan }) },
          { onNotice: (n) => onProgress(n as PublishProgress) },
        )) as PublishSummary | null);
        byNode = asked !== null;
        s = asked ?? (await (await library()).publish({ config, source, note: o.note, force: o.force, allowShrink: o.allowShrink === true, onProgress }));
      } finally {
        bar.stop();
      }
      if (byNode && !o.json) noteDoneByNode(config.dataDir, 'published');
      for (const sk of s.skipped) process.stderr.write(`warning: skipped ${sk.kind} ${quotePath(sk.path)}: a release carries only files, directories and symlinks\n`);
      for (const w of s.warnings) process.stderr.write(`warning: ${w}\n`);
      if (o.json) return printJson(s);
      if (s.version === null) {
        process.stdout.write(`no change: the tree equals the newest release (${s.files} files checked in ${s.seconds.toFixed(2)} s)\n`);
        return;
      }
      process.stdout.write(
        formatFields([
          ['version', s.version],
          ['release', s.releaseId!],
          ['files', `${s.files} (${s.dirs} dirs, ${s.symlinks} symlinks)`],
          ['bytes', formatBytes(s.bytes)],
          ['hashed', `${s.hashedFiles} files, ${formatBytes(s.hashedBytes)} at ${s.mbPerSec.toFixed(0)} MB/s`],
          ['reused', `${s.reusedFiles} files hard-linked from the previous release${s.recycledFrom === null ? '' : ` (built in the tree of release ${s.recycledFrom}, which it replaces)`}`],
          ['new chunks', `${s.newChunks} (${formatBytes(s.newBytes)})`],
          ['time', `${s.seconds.toFixed(2)} s`],
          ...(s.objectsCompacted ? [['gc', (await library()).compactionText(s.objectsCompacted)] as [string, string]] : []),
        ]) + '\n',
      );
    });

  program
    .command('show')
    .description('summary of a release (default: the newest), optionally with its tree')
    .argument('[version]', 'release version', parseVersion)
    .option('--tree', 'list every path')
    .option('--json', 'machine-readable output')
    .action(async (version: number | undefined, o) => {
      const config = await loadConfig(configPath());
      const { summary: s, tree } = await (await library()).showRelease(config, version);
      if (o.json) return printJson(o.tree ? { ...s, tree } : s);
      process.stdout.write(
        formatFields([
          ['version', s.version],
          ['release', s.releaseId],
          ['parent', s.parent ?? '-'],
          ['root', s.root],
          ['created', s.created],
          ['note', s.note || '-'],
          ['content', `${s.files} files, ${s.dirs} dirs, ${s.symlinks} symlinks, ${formatBytes(s.bytes)}`],
          ['chunks', `${s.chunks} distinct, ${formatBytes(s.pieceBytes)}, in ${s.pieces} pieces`],
          ['on disk', s.materialized ? 'yes' : 'no'],
        ]) + '\n',
      );
      if (o.tree) {
        for (const t of tree) {
          process.stdout.write(`${t.type[0]} ${t.mode} ${String(t.size).padStart(12)} ${quotePath(t.path)}${t.target !== undefined ? ` -> ${quotePath(t.target)}` : ''}\n`);
        }
      }
    });

  program
    .command('diff')
    .description('what changed between two releases')
    .argument('<v1>', 'older version', parseVersion)
    .argument('<v2>', 'newer version', parseVersion)
    .option('--json', 'machine-readable output')
    .action(async (v1: number, v2: number, o) => {
      const config = await loadConfig(configPath());
      const changes = await (await library()).diffReleases(config, v1, v2);
      if (o.json) return printJson(changes);
      const mark = { added: 'A', removed: 'D', modified: 'M', meta: 'P' } as const;
      for (const c of changes) process.stdout.write(`${mark[c.change]} ${quotePath(c.path)}\n`);
      process.stdout.write(`${changes.length} changes\n`);
    });
}
