import { Option, type Command } from 'commander';
import { createLogger, type LogFormat } from '../logger.js';
import { STATUS_TIMEOUT_MS, type EarlyQuery } from '../early-query.js';
import { callControl, loadConfig } from '../../client.js';
import type { ChunkswarmNode, NodeStatusReport } from '../../index.js';
import { library } from '../library.js';
import { formatBytes, formatFields, printJson } from '../format.js';
import { limitHeapGrowth } from '../heap-growth.js';
import { collectWhenIdle } from '../idle-collect.js';
import { raiseOptimizationBudget } from '../jit-budget.js';
import { keepFreedMemory } from '../malloc-thresholds.js';
import { parsePort } from '../option-parsers.js';

const STALE_SEC = 5;
/** `status` exit status when no `serve` has reported for STALE_SEC. */
const NOT_RUNNING_EXIT = 11;

type Progress = ReturnType<ChunkswarmNode['progress']>;

/** The same figures from a whole status report (the `status` command's). */
function progressOf(r: NodeStatusReport): Progress {
  return r.progress && { progress: r.progress, peers: r.peers.filter((x) => x.connected).length, unavailablePieces: r.unavailablePieces };
}

function progressLine(r: Progress): string | null {
  if (!r) return null;
  const p = r.progress;
  const pct = p.bytesTotal > 0 ? (100 * p.bytesHave) / p.bytesTotal : 100;
  return `release ${p.version}: ${pct.toFixed(1)}% (${formatBytes(p.bytesHave)} of ${formatBytes(p.bytesTotal)}), ${r.peers} peers` +
    (r.unavailablePieces > 0 ? `, ${r.unavailablePieces} pieces on no connected peer` : '');
}

/** serve: run the node in the foreground; status: what the running node last reported. */
export function registerServeCommands(program: Command, configPath: () => string, early: EarlyQuery | null): void {
  program
    .command('serve')
    .description('run this node: join the cluster, seed retained releases, fetch and activate new ones')
    .option('--bootstrap-port <port>', 'also run a DHT bootstrap node on this port (overrides network.bootstrapPort)', (v: string) => parsePort(v))
    .option('--quiet', 'log only warnings and errors')
    .addOption(new Option('--log-format <format>', 'log lines for people (human) or one JSON object per line (json)').choices(['human', 'json']).default('human'))
    .action(async (o) => {
      limitHeapGrowth();
      raiseOptimizationBudget();
      keepFreedMemory();
      collectWhenIdle();
      const config = await loadConfig(configPath());
      if (o.bootstrapPort !== undefined) config.network.bootstrapPort = o.bootstrapPort;
      const log = createLogger({ format: o.logFormat as LogFormat, quiet: !!o.quiet, node: config.node.name });
      const node = await (await library()).createNode({ config, log });
      let stopping = false;
      const stop = (signal: string) => {
        if (stopping) return;
        stopping = true;
        log.info(`${signal}: stopping`);
        const started = performance.now();
        // The last line of a node's log says it ended by itself (not killed), and how long that took.
        const stopped = (code: number) => {
          log.info(`stopped in ${((performance.now() - started) / 1000).toFixed(1)} s`);
          process.exit(code);
        };
        void node.close().then(() => stopped(0), () => stopped(1));
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
      // The hangup of the terminal serve runs in stops it. A service has none: a SIGHUP there comes
      // from an admin or a script expecting a reload, and ended the node, which systemd does not
      // restart (Restart=on-failure counts a SIGHUP as a clean end).
      process.on('SIGHUP', () => {
        if (process.stdin.isTTY || process.stdout.isTTY) stop('SIGHUP');
        else log.warn(`SIGHUP: ignored: the configuration is read when serve starts; restart the service to apply a change (systemctl restart chunkswarm)`);
      });
      await node.ready();
      let last = '';
      const progress = setInterval(() => {
        const r = node.progress();
        const line = progressLine(r);
        if (line && line !== last) log.info(line, r ? { release: r.progress.version } : {});
        last = line ?? '';
      }, 2000);
      progress.unref();
      await new Promise<never>(() => undefined);
    });

  program
    .command('status')
    .description("the running node's state: live and newest release, progress, peers, problems; exit 0 ok, 1 in error, 11 not running")
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const config = await loadConfig(configPath());
      // Fresh from the running node when there is one; else its last report on disk.
      const request = { op: 'status' } as const;
      const asked = early?.take(config.dataDir, request) ?? callControl(config.dataDir, request, { timeoutMs: STATUS_TIMEOUT_MS });
      const live = (await asked.catch(() => null)) as NodeStatusReport | null;
      const { report: r, ageSec } = live ? { report: live, ageSec: 0 } : await (await library()).readStatus(config.dataDir);
      const running = live !== null || (ageSec < STALE_SEC && r.phase !== 'stopped');
      const problems = r.problems ?? [];
      process.exitCode = !running ? NOT_RUNNING_EXIT : problems.some((p) => p.level === 'error') ? 1 : 0;
      if (o.json) return printJson({ ...r, running, ageSec });
      process.stdout.write(
        formatFields([
          ['node', `${r.node}${r.publisher ? ' (publisher)' : ''}`],
          ['running', running ? `yes (pid ${r.pid}, since ${r.startedAt})${r.memory ? `, ${r.memory.rssMB} MB resident, heap ${r.memory.heapUsedMB} of ${r.memory.heapTotalMB} MB` : ''}` : `no: last report ${ageSec.toFixed(0)} s ago`],
          ['phase', r.phase],
          ['live', r.live === null ? '-' : `${r.live}${r.pinned ? ' (pinned)' : ''}`],
          ['newest', r.newest ? `${r.newest.version} (${r.newest.release.slice(0, 16)})` : '-'],
          ['progress', progressLine(progressOf(r)) ?? '-'],
          ['traffic', `up ${formatBytes(r.bytesUp)}, down ${formatBytes(r.bytesDown)} (${formatBytes(r.bytesFromPublisher)} from the publisher)`],
          ['drift', r.verify ? `${r.verify.added} added, ${r.verify.removed} removed, ${r.verify.changed} changed (${r.verify.at})` : 'not checked yet'],
          ['dashboard', r.http ? `http://${r.http}/ (metrics: /metrics)` : 'off (metrics.listen)'],
          ['last error', r.lastError ? `${r.lastError.code}: ${r.lastError.message} (${r.lastError.at})` : '-'],
        ]) + '\n',
      );
      for (const p of problems) process.stdout.write(`  ${p.level}: ${p.text}\n`);
      for (const p of r.peers) {
        const path = p.path === null ? '' : `  over ${p.path === 'tcp' ? 'TCP (direct)' : 'hyperswarm'}`;
        process.stdout.write(`  ${p.connected ? '+' : '-'} ${p.key.slice(0, 16)}${p.publisher ? ' publisher' : ''}${path}  up ${formatBytes(p.up)}  down ${formatBytes(p.down)}\n`);
      }
      for (const b of r.banned) process.stdout.write(`  banned ${b.key.slice(0, 16)}: ${b.reason}\n`);
      for (const h of r.refusedHeads) process.stdout.write(`  refused a release from ${h.peer.slice(0, 16)}: ${h.code}: ${h.message}\n`);
    });
}
