import { join } from 'node:path';
import type { Command } from 'commander';
import { callControl, ChunkswarmError, loadConfig, quotePath, summaryLine } from '../../client.js';
import type { DriftBundle, FleetNodeView, FleetView, PulledDrift, SourceChange } from '../../index.js';
import { library } from '../library.js';
import { formatBytes, printJson } from '../format.js';

/** `fleet` exit status when no `serve` runs on this node (as `status`). */
const NOT_RUNNING_EXIT = 11;
const FLEET_TIMEOUT_MS = 5000;

function notRunning(dataDir: string): ChunkswarmError {
  return new ChunkswarmError('E_NOT_FOUND', `no running node on ${dataDir}: "chunkswarm serve" must run on this machine (the fleet view and drift pull go through it)`);
}

function release(v: number | null): string {
  return v === null ? '-' : String(v);
}

/** The table of `chunkswarm fleet`, one line per node, then the summary. */
export function formatFleet(view: FleetView): string {
  const rows = view.nodes.map((n: FleetNodeView) => [
    `${n.self ? '*' : ' '}${n.name}${n.publisher ? ' (publisher)' : ''}`,
    n.address ?? '-',
    `${release(n.live)}/${release(n.newest)}`,
    n.stateText,
    `drift ${n.drift.live}${n.drift.unpulled.length ? ` (${n.drift.unpulled.length} unpulled)` : ''}`,
    n.publisher ? `up ${formatBytes(n.bytesUp)}` : `peers ${formatBytes(n.bytesFromPeers)} / publisher ${formatBytes(n.bytesFromPublisher)}`,
  ]);
  const head = [' node', 'address', 'live/newest', 'state', 'drift', 'bytes in'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: string[]) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(width[i]!))).join('  ').trimEnd();
  return [line(head), ...rows.map(line), summaryLine(view.summary)].join('\n') + '\n';
}

function bundleOf(p: PulledDrift): DriftBundle {
  return { record: p.record, files: p.files.map((f) => ({ ...f, data: Buffer.from(f.data, 'base64') })) };
}

function formatChange(c: SourceChange): string {
  const note = c.conflict
    ? `  (conflict: ${c.conflict}; the node's edit of the release's version follows, where it is at hand)`
    : c.merged ? "  (merged: the source changed it too; the node's edit applies on top, the diff shows the result)"
    : c.binary ? '  (binary: copied, not diffed)' : '';
  const head = `${c.letter} ${quotePath(c.path)}${note}`;
  return c.diff ? `${head}\n${c.diff.replace(/\n$/, '')}` : head;
}

/** fleet: every node as this one sees it; drift pull: a hand fix brought back to the master. */
export function registerFleetCommands(program: Command, configPath: () => string): void {
  program
    .command('fleet')
    .description('every node of the cluster as the running node sees it; exit 1 if any is in error or unreachable, 11 if serve is not running')
    .option('--json', 'machine-readable output')
    .option('--watch', 'redraw every 2 s until interrupted')
    .action(async (o) => {
      const config = await loadConfig(configPath());
      const once = async (): Promise<FleetView | null> => (await callControl(config.dataDir, { op: 'fleet' }, { timeoutMs: FLEET_TIMEOUT_MS })) as FleetView | null;
      for (;;) {
        const view = await once();
        if (!view) {
          process.stderr.write(`chunkswarm: E_NOT_FOUND: ${notRunning(config.dataDir).message}\n`);
          process.exitCode = NOT_RUNNING_EXIT;
          return;
        }
        process.exitCode = view.ok ? 0 : 1;
        if (o.json) printJson(view);
        else process.stdout.write(`${o.watch ? '\x1b[H\x1b[2J' + view.at + '\n' : ''}${formatFleet(view)}`);
        if (!o.watch) return;
        await new Promise((r) => setTimeout(r, 2000));
      }
    });

  const drift = program.commands.find((c) => c.name() === 'drift');
  if (!drift) throw new Error('the drift command must be registered first');
  drift
    .command('pull')
    .description("fetch a node's preserved drift record over the swarm and show it against the source tree; --apply copies its files there")
    .argument('<node>', 'node name, or its key (or 8+ first hex characters)')
    .argument('[record]', 'drift record id (default: the newest on that node)')
    .option('--source <dir>', "compare with this source tree (default: the --apply directory, else the release the drift was found in)")
    .option('--apply <source-dir>', "copy the record's files into the master's source tree, for the next publish")
    .option('--path <path...>', 'with --apply: only these paths')
    .option('--delete', 'with --apply: also remove what was removed by hand on the node (D lines)')
    .option('--overwrite', "with --apply: take the node's version of paths the source changed too (C lines), dropping the source's change")
    .option('--json', 'machine-readable output')
    .action(async (node: string, record: string | undefined, o) => {
      const config = await loadConfig(configPath());
      const lib: typeof import('../../index.js') = await library();
      const { applyToSource, compareWithSource } = lib;
      for (const p of o.path ?? []) lib.checkRelativePath(p);
      const pulled = (await callControl(config.dataDir, { op: 'drift-pull', node, ...(record !== undefined && { record }) })) as PulledDrift | null;
      if (!pulled) throw notRunning(config.dataDir);
      const bundle = bundleOf(pulled);
      const release = join(config.dataDir, 'releases', String(bundle.record.version));
      const base = o.apply ?? o.source ?? release;
      const changes = await compareWithSource(bundle, base, { release });
      const apply = () => applyToSource(bundle, o.apply, { release, ...(o.path && { paths: o.path }), delete: !!o.delete, overwrite: !!o.overwrite });
      if (o.json) return printJson({ node: pulled.node, record: bundle.record.id, version: bundle.record.version, base, changes, applied: o.apply ? await apply() : null });
      // The lines first: a refused --apply (E_CONFLICT) leaves them on screen to merge by hand.
      process.stdout.write(`drift record ${bundle.record.id} of node ${pulled.node.name} (release ${bundle.record.version}), against ${base}:\n`);
      for (const c of changes) process.stdout.write(formatChange(c) + '\n');
      if (changes.length === 0) process.stdout.write(`nothing differs from ${base}\n`);
      if (!o.apply) return;
      const applied = await apply();
      process.stdout.write(`copied ${applied.written.length} path(s) into ${o.apply}${applied.removed.length ? `, removed ${applied.removed.length}` : ''}; ` +
        `"chunkswarm publish ${o.apply}" ships them to every node\n`);
    });
}
