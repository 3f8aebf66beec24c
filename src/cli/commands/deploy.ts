import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ChunkswarmError, loadConfig, quotePath, verifyExitBits, type Config, type DriftEntry, type VerifyResult } from '../../client.js';
import type { DeployResult, NodeCommand, NodeCommandResult, NodeCommandResults } from '../../index.js';
import { byNodeOrHere } from '../by-node.js';
import type { EarlyQuery } from '../early-query.js';
import { formatBytes, formatFields, printJson } from '../format.js';
import { library } from '../library.js';
import { createLogger } from '../logger.js';

function parseVersion(s: string): number {
  if (!/^\d+$/.test(s) || Number(s) < 1) throw ChunkswarmError.usage(`not a release version: ${JSON.stringify(s)}`);
  return Number(s);
}

const LETTER: Record<DriftEntry['kind'], string> = { added: 'A', removed: 'D', modified: 'M', type: 'M', meta: 'P' };

function when(ms: number | undefined): string {
  return ms === undefined ? '-' : new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z');
}

function pair<T>(a: T | undefined, b: T | undefined, f: (v: T) => string = String): string {
  return `${a === undefined ? '-' : f(a)}|${b === undefined ? '-' : f(b)}`;
}

const octal = (m: number) => m.toString(8).padStart(4, '0');

export function formatDriftLine(e: DriftEntry): string {
  const type = e.kind === 'type' ? `  type ${pair(e.old?.type, e.new?.type)}` : '';
  return (
    `${LETTER[e.kind]} ${quotePath(e.path)}${type}  size ${pair(e.old?.size, e.new?.size)}  mtime ${pair(e.old?.mtime, e.new?.mtime, when)}` +
    `  mode ${pair(e.old?.mode, e.new?.mode, octal)}`
  );
}

function printVerify(r: VerifyResult, livePath: string): void {
  const c = r.counts;
  const lines = [
    `live release ${r.version}: ${livePath} -> ${r.dir}`,
    `${r.deep ? 'deep' : 'quick'} check: ${r.checked} entries, ${r.hashed} files hashed`,
    `summary: ${c.added} added, ${c.removed} removed, ${c.modified + c.type + c.meta} changed ` +
      `(${c.modified} content, ${c.meta} metadata, ${c.type} type)`,
    ...r.entries.map(formatDriftLine),
  ];
  if (r.entries.length === 0) lines.push('clean: the live tree matches its release');
  process.stdout.write(lines.join('\n') + '\n');
}

function printDeploy(r: DeployResult): void {
  if (r.drift?.report.adopted) process.stderr.write(`warning: what differed from release ${r.version} in ${r.drift.report.livePath} is recorded in ${r.drift.dir}\n`);
  else if (r.drift) process.stderr.write(`warning: hand-made changes of release ${r.drift.report.version} preserved in ${r.drift.dir}\n`);
  for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
  process.stdout.write(
    r.switched
      ? `release ${r.version} is live${r.previous !== null ? ` (was ${r.previous})` : r.adopted ? ` in place of ${r.adopted.what}, kept at ${r.adopted.keptAt}` : ''}\n`
      : `release ${r.version} was already live\n`,
  );
}

/** The commands that deploy, check and keep releases on this node; no network. */
export function registerDeployCommands(program: Command, configPath: () => string, early: EarlyQuery | null): void {
  const open = async (json: boolean, loaded?: Config) => {
    const config = loaded ?? (await loadConfig(configPath()));
    const { Deployer, silentLogger } = await library();
    return Deployer.open(config, { log: json ? silentLogger : createLogger({ format: 'human', quiet: false, node: config.node.name, timestamps: false }) });
  };

  /**
   * A command that changes what the node should be on: the running `serve` carries it out (so it
   * takes effect there at once); with none running, this process does, holding the data directory.
   */
  const command = async <Op extends NodeCommand['op']>(cmd: Extract<NodeCommand, { op: Op }>, json: boolean): Promise<NodeCommandResults[Op]> => {
    const config = await loadConfig(configPath());
    const done = await byNodeOrHere<NodeCommandResult>(config, cmd, json, async () => {
      const { DataLock, runNodeCommand } = await library();
      return DataLock.holding(config.dataDir, cmd.op, async () => runNodeCommand(await open(json, config), cmd));
    });
    return done.result as NodeCommandResults[Op];
  };

  program
    .command('verify')
    .description('compare the live tree with its release; exit status: 1 added, 2 removed, 4 changed (or-ed)')
    .option('--deep', 'hash every file instead of trusting unchanged size, mtime and inode')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const config = await loadConfig(configPath());
      // The running node verifies with its warm stat cache, between its deploy steps.
      const r = await byNodeOrHere<VerifyResult>(config, { op: 'verify', ...(o.deep && { deep: true }) }, o.json, async () =>
        (await open(o.json, config)).verify({ deep: o.deep }), early);
      if (o.json) printJson(r);
      else printVerify(r, config.livePath);
      process.exitCode = verifyExitBits(r);
    });

  program
    .command('activate')
    .description('stage a release from data on this node (or --source-data) and make it live')
    .argument('<version>', 'release version', parseVersion)
    .option('--source-data <dir>', "another node's data directory on this machine to take the release from (verified)")
    .option('--json', 'machine-readable output')
    .action(async (version: number, o) => {
      const r = await command<'activate'>({ op: 'activate', version, ...(o.sourceData && { sourceData: resolve(o.sourceData) }) }, o.json);
      if (o.json) return printJson(r);
      printDeploy(r);
      if (r.pinned) process.stdout.write(`the node is pinned at ${r.version} (older than the newest release): it will not activate newer releases until "chunkswarm unpin"\n`);
    });

  program
    .command('rollback')
    .description('make an older release live again (default: the newest retained one before live) and pin the node there')
    .argument('[version]', 'release version', parseVersion)
    .option('--json', 'machine-readable output')
    .action(async (version: number | undefined, o) => {
      const r = await command<'rollback'>({ op: 'rollback', ...(version !== undefined && { version }) }, o.json);
      if (o.json) return printJson(r);
      printDeploy(r);
      process.stdout.write('the node is pinned: it will not activate newer releases until "chunkswarm unpin"\n');
    });

  program
    .command('unpin')
    .description('let a rolled-back node activate newer releases again')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const s = await command<'unpin'>({ op: 'unpin' }, o.json);
      if (o.json) return printJson(s);
      process.stdout.write(`unpinned; live release ${s.live ?? '-'} for now: a running node goes on to the newest release it knows at once, a stopped one when it serves again\n`);
    });

  program
    .command('gc')
    .description('delete release trees beyond releases.keep (never the live or pinned one), and the objects only they had once they add up; heads stay')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const r = await command<'gc'>({ op: 'gc' }, o.json);
      if (o.json) return printJson(r);
      for (const x of r.removed) process.stdout.write(`removed release ${x.version} (${formatBytes(x.freedBytes)} freed)\n`);
      process.stdout.write(`kept ${r.kept.join(', ') || '-'}; freed ${formatBytes(r.freedBytes)}\n`);
      if (r.objects) process.stdout.write(`${(await library()).compactionText(r.objects)}\n`);
    });

  program
    .command('republish')
    .description('publish an old release again as a new, higher version (cluster-wide roll-back; publisher only)')
    .argument('<version>', 'the version whose tree to publish again', parseVersion)
    .option('--note <text>', 'a note stored in the release')
    .option('--json', 'machine-readable output')
    .action(async (from: number, o) => {
      const s = await (await library()).publishFrom({ config: await loadConfig(configPath()), from, ...(o.note !== undefined && { note: o.note }) });
      if (o.json) return printJson(s);
      process.stdout.write(
        formatFields([
          ['version', s.version],
          ['release', s.releaseId],
          ['tree of', `version ${s.from}`],
          ['linked', `${s.linkedFiles} files`],
        ]) + '\n',
      );
    });

  const drift = program.command('drift').description('hand-made changes found in live trees and preserved before they were replaced');
  drift
    .command('list')
    .description('every drift record, oldest first')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const d = await open(o.json);
      const list = await (await library()).listDrift(d.releases);
      if (o.json) return printJson(list);
      for (const r of list) {
        const c = r.counts;
        process.stdout.write(`${r.id}  release ${r.version}  ${c.modified + c.type} modified, ${c.added} added, ${c.removed} removed, ${c.meta} metadata  policy ${r.policy}${r.adopted ? `  (adopted, kept at ${r.adopted.keptAt})` : ''}\n`);
      }
      if (list.length === 0) process.stdout.write('no drift recorded\n');
    });
  drift
    .command('show')
    .description('one drift record: its report and where the preserved files are')
    .argument('<id>', 'record id from "drift list"')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o) => {
      const d = await open(o.json);
      const r = await (await library()).showDrift(d.releases, id);
      if (o.json) return printJson(r);
      process.stdout.write(`${r.id}: release ${r.version} at ${r.livePath}, found ${r.created}, policy ${r.policy}\n`);
      if (r.adopted) process.stdout.write(`found in ${r.adopted.what} that stood at ${r.livePath} before release ${r.version} took its place; kept at ${r.adopted.keptAt}\n`);
      process.stdout.write(`preserved in ${d.releases.driftDir}/${r.id}: ${r.preserved.map(quotePath).join(', ') || '-'}\n`);
      for (const e of r.entries) process.stdout.write(formatDriftLine(e) + '\n');
    });
  drift
    .command('ack')
    .description('accept the drift now in the live tree, so that policy "block" lets the next release replace it')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const r = await command<'drift-ack'>({ op: 'drift-ack' }, o.json);
      if (o.json) return printJson(r);
      process.stdout.write(`acknowledged ${r.entries} drifted paths in live release ${r.version}\n`);
    });
}
