import { dirname, join, relative } from 'node:path';
import type { Command } from 'commander';
import { loadConfig } from '../../client.js';
import type { InvitationView, MembershipCommand, MembershipCommandResults, MembershipView } from '../../index.js';
import { byNodeOrHere } from '../by-node.js';
import { formatFields, printJson } from '../format.js';
import { library } from '../library.js';
import { parseDuration, parsePort, positiveInt } from '../option-parsers.js';

function printMembers(v: MembershipView): void {
  process.stdout.write(
    `membership ${v.version === null ? '(no signed record yet: network.allowlist of this node)' : `version ${v.version}, signed ${v.created}`}` +
      `${v.enforced ? '' : '; not enforced on this node (network.allowlist is null)'}\n`,
  );
  for (const m of v.members) process.stdout.write(`  ${m.key}${m.name ? `  ${m.name}` : ''}\n`);
  process.stdout.write(`${v.members.length} node${v.members.length === 1 ? '' : 's'}\n`);
}

function printInvitation(i: InvitationView): void {
  const by = i.redeemed.map((r) => `${r.key.slice(0, 16)}${r.name ? ` (${r.name})` : ''}`).join(', ');
  process.stdout.write(`${i.id}  ${i.state.padEnd(7)}  used ${i.redeemed.length}/${i.uses}  expires ${i.expires}${by ? `  by ${by}` : ''}\n`);
}

/** Membership and joining: token, join, admit, remove, members. */
export function registerMembershipCommands(program: Command, configPath: () => string): void {
  /**
   * The running `serve` carries the command out (the new membership goes out to the swarm at
   * once); with none running, this process does, holding the data directory.
   */
  const run = async <Op extends MembershipCommand['op']>(cmd: Extract<MembershipCommand, { op: Op }>, json: boolean): Promise<MembershipCommandResults[Op]> => {
    const config = await loadConfig(configPath());
    // The lists are answers, not changes: nothing to say about who made them.
    return byNodeOrHere<MembershipCommandResults[Op]>(config, cmd, json || cmd.op === 'members' || cmd.op === 'token-list', async () => {
      const { DataLock, MembershipAdmin } = await library();
      return DataLock.holding(config.dataDir, cmd.op, async () => (await MembershipAdmin.open(config)).run(cmd));
    });
  };

  const token = program.command('token').description('join tokens: one-time invitations for new nodes (publisher)');
  token
    .command('create')
    .description('print a join token for "chunkswarm join" on a new node; it carries no cluster secret, only a one-time invitation')
    .option('--ttl <duration>', 'how long the token can be used (90s, 15m, 1h, 7d)', '1h')
    .option('--uses <n>', 'how many nodes may join with it', '1')
    .option('--bootstrap <host:port...>', 'bootstrap nodes the new node contacts (default: network.bootstrap)')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const r = await run<'token-create'>({ op: 'token-create', ttlSec: parseDuration(o.ttl), uses: positiveInt(o.uses), ...(o.bootstrap && { bootstrap: o.bootstrap }) }, o.json);
      if (o.json) return printJson(r);
      const loopback = r.bootstrap.filter((b) => /^(127\.|localhost:)/.test(b));
      if (loopback.length > 0) {
        process.stderr.write(`warning: the token lists ${loopback.join(', ')}, which only this machine reaches: pass --bootstrap <master address>:<port> for other machines\n`);
      }
      process.stderr.write(`invitation ${r.id}: ${r.uses} use${r.uses === 1 ? '' : 's'} until ${r.expires}; on the new node run\n  chunkswarm join <token> --dir /etc/chunkswarm --live <path>\n`);
      process.stdout.write(`${r.token}\n`);
    });
  token
    .command('list')
    .description('the invitations and their state (active, used, expired, revoked), with the nodes that used them')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const list = await run<'token-list'>({ op: 'token-list' }, o.json);
      if (o.json) return printJson(list);
      for (const i of list) printInvitation(i);
      if (list.length === 0) process.stdout.write('no invitations\n');
    });
  token
    .command('revoke')
    .description('void an invitation now (its id from "token list", or a unique prefix)')
    .argument('<id>', 'invitation id')
    .option('--json', 'machine-readable output')
    .action(async (id: string, o) => {
      const r = await run<'token-revoke'>({ op: 'token-revoke', id }, o.json);
      if (o.json) return printJson(r);
      printInvitation(r);
    });

  program
    .command('join')
    .description('make this machine a node of the cluster a join token names: writes the config and secrets (0600) to a new directory')
    .argument('<token>', 'the line "chunkswarm token create" printed on the master')
    .requiredOption('--dir <dir>', 'new directory for the config, secrets and data (must not exist, or be empty)')
    .requiredOption('--live <path>', 'livePath: the symlink your services use (its directory must exist)')
    .option('--adopt', 'adoptLive: a directory (or symlink) at --live, say the tree rsync keeps up to date, is taken over by the first release: moved aside to <live>.pre-chunkswarm, kept whole, its differences recorded as drift')
    .option('--data-dir <dir>', 'dataDir, if not data/ inside --dir (must not exist, or be empty; e.g. /var/lib/chunkswarm)')
    .option('--host <addr>', 'network.host: the address this node binds and other nodes reach it on')
    .option('--name <name>', "node.name: this node's name in logs, the fleet view and the membership (default: the host name)")
    .option('--port <port>', 'network.port: the TCP port of the direct path for pieces (default 49738, or a free port on loopback or where 49738 is taken; 0: any free port at each start)', (v: string) => parsePort(v, true))
    .option('--bootstrap-port <port>', 'the UDP port of the DHT bootstrap node this node runs, which its peers remember (default 49737, or a free port on loopback or where 49737 is taken)', (v: string) => parsePort(v))
    .option('--timeout <duration>', 'give up reaching the publisher after this long', '30s')
    .option('--json', 'machine-readable output')
    .action(async (tokenText: string, o) => {
      const r = await (await library()).joinNode({
        token: tokenText, dir: o.dir, livePath: o.live, adopt: o.adopt === true, timeoutMs: parseDuration(o.timeout) * 1000, ...(o.dataDir && { dataDir: o.dataDir }),
        ...(o.host && { host: o.host }), ...(o.name && { name: o.name }), ...(o.bootstrapPort !== undefined && { bootstrapPort: o.bootstrapPort }),
        ...(o.port !== undefined && { port: o.port }),
      });
      if (o.json) return printJson(r);
      const cfg = relative(process.cwd(), r.configPath) || r.configPath;
      process.stdout.write(
        formatFields([
          ['joined', `cluster ${r.cluster.slice(0, 16)} (publisher key ${r.publisherKey.slice(0, 16)})`],
          ['node key', r.nodeKey],
          ['membership', r.membershipVersion === null ? 'not kept by this cluster' : `version ${r.membershipVersion}${r.enforced ? '' : ' (not enforced)'}`],
          ['wrote', `${r.configPath}, ${join(r.dir, 'cluster.secret')} and ${join(r.dataDir, 'node.seed')} (0600)`],
          ['bootstrap', r.bootstrap.join(', ')],
          ...(o.adopt ? [['live', `${r.livePath}: what stands there now is taken over by the first release (adoptLive)`] as [string, string]] : []),
        ]) + '\n',
      );
      process.stdout.write(
        `next: chunkswarm -c ${cfg} serve\n` +
          `  or as a service: contrib/systemd/chunkswarm.service (README, "Running as a service") with\n` +
          `    ExecStart=${process.argv[1]} -c ${r.configPath} serve --log-format json\n` +
          `    ReadWritePaths=${r.dataDir} ${dirname(r.livePath)}\n` +
          `    ReadOnlyPaths=${r.dir}\n` +
          `  and User= the owner of those paths (chown -R it ${r.dir}${r.dataDir.startsWith(r.dir + '/') ? '' : ` ${r.dataDir}`}), then: systemctl enable --now chunkswarm\n`,
      );
    });

  program
    .command('admit')
    .description('let a node into the cluster: the publisher signs a new membership, every node takes it within seconds (publisher)')
    .argument('<node-key>', "the node's key (printed by init, join and status)")
    .option('--name <name>', 'a name for it in the membership')
    .option('--json', 'machine-readable output')
    .action(async (key: string, o) => {
      const v = await run<'admit'>({ op: 'admit', key, ...(o.name !== undefined && { name: o.name }) }, o.json);
      if (o.json) return printJson(v);
      if (v.unchanged) {
        const name = v.members.find((m) => m.key === key)?.name;
        return void process.stdout.write(`node ${key.slice(0, 16)}${name ? ` (${name})` : ''} is already in membership version ${v.version}: nothing signed\n`);
      }
      printMembers(v);
      const record = (await library()).membershipPath((await loadConfig(configPath())).dataDir);
      process.stdout.write(`a node made with "init --join" that holds no signed membership yet lets no peer in: copy ${record} into its data directory before it serves (a node that joined with a token needs nothing)\n`);
    });

  program
    .command('remove')
    .description('shut a node out: the publisher signs a new membership without it; every node disconnects it and gives it nothing more (publisher)')
    .argument('<node-key>', "the node's key")
    .option('--json', 'machine-readable output')
    .action(async (key: string, o) => {
      const v = await run<'remove'>({ op: 'remove', key }, o.json);
      if (o.json) return printJson(v);
      printMembers(v);
      process.stdout.write('every node that enforces the membership disconnects it within seconds; a node with network.allowlist null still lets it in\n');
    });

  program
    .command('members')
    .description("the cluster's signed membership as this node knows it")
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      const v = await run<'members'>({ op: 'members' }, o.json);
      if (o.json) return printJson(v);
      printMembers(v);
    });
}
