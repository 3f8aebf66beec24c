import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { inHost, type NetHost } from './netns.js';
import { freeTcpPort } from './ports.js';

/**
 * A real rsync daemon serving directories as read-only modules: the baseline the users run today.
 * On 127.0.0.1, or on a host's address inside its network namespace (bench --netns).
 */
export class RsyncDaemon {
  /** Clients still running (a step that timed out); close() ends them. */
  private readonly running = new Set<ChildProcess>();

  private constructor(
    private readonly proc: ChildProcess,
    readonly address: string,
    readonly port: number,
  ) {}

  /** Starts a daemon (config `rsyncd-<name>.conf` written into `work`) serving each module name -> directory. */
  static async start(work: string, modules: Record<string, string>, o: { name?: string; host?: NetHost | undefined } = {}): Promise<RsyncDaemon> {
    const conf = join(work, `rsyncd-${o.name ?? 'publisher'}.conf`);
    await writeFile(conf, [
      // Root can read the mkdtemp (0700) trees only as root; no chroot needed on a private network.
      'uid = root\ngid = root\nuse chroot = no\nmax connections = 0\n',
      ...Object.entries(modules).map(([name, path]) => `[${name}]\n  path = ${path}\n  read only = yes\n`),
    ].join('\n'));
    const address = o.host?.address ?? '127.0.0.1';
    // A namespace of its own has every port free.
    const port = o.host ? 873 : await freeTcpPort();
    const [cmd, ...args] = inHost(o.host, ['rsync', '--daemon', '--no-detach', `--config=${conf}`, `--port=${port}`, `--address=${address}`]);
    const daemon = new RsyncDaemon(spawn(cmd!, args, { stdio: 'ignore' }), address, port);
    try {
      await daemon.waitListening(o.host);
    } catch (err) {
      await daemon.close();
      throw err;
    }
    return daemon;
  }

  /**
   * One client pull (`rsync -a --delete --stats`) of a module into `dest`, from `host`'s namespace
   * if given; resolves when it exits, with the client's pid (for its CPU and memory) reported as
   * soon as it starts.
   */
  pull(module: string, dest: string, o: { bwlimitKiB?: number | null; onStart?: (pid: number) => void; host?: NetHost | undefined } = {}): Promise<Pull> {
    const url = `rsync://${this.address}:${this.port}/${module}/`;
    const [cmd, ...args] = inHost(o.host, ['rsync', '-a', '--delete', '--stats', ...(o.bwlimitKiB ? [`--bwlimit=${o.bwlimitKiB}`] : []), url, `${dest}/`]);
    return new Promise((resolve) => {
      const p = spawn(cmd!, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      this.running.add(p);
      if (p.pid !== undefined) o.onStart?.(p.pid);
      let out = '';
      let err = '';
      p.stdout.on('data', (d: Buffer) => (out += d.toString()));
      p.stderr.on('data', (d: Buffer) => (err += d.toString()));
      p.once('close', (code) => {
        this.running.delete(p);
        const m = /Total bytes received: ([\d,]+)/.exec(out);
        resolve({ ok: code === 0, received: m ? Number(m[1]!.replace(/,/g, '')) : 0, stderr: err.trim() });
      });
    });
  }

  async close(): Promise<void> {
    for (const p of this.running) p.kill('SIGTERM');
    if (this.proc.exitCode !== null || this.proc.signalCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await exited;
  }

  /** Until the daemon accepts connections: from this process on loopback, else from inside its namespace. */
  private async waitListening(host: NetHost | undefined): Promise<void> {
    for (let i = 0; i < 100; i++) {
      if (this.proc.exitCode !== null) break;
      if (await (host ? this.listsModules(host) : connects(this.port))) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`rsync daemon did not listen on ${this.address}:${this.port}`);
  }

  private listsModules(host: NetHost): Promise<boolean> {
    return new Promise((r) => {
      const [cmd, ...args] = inHost(host, ['rsync', `rsync://${this.address}:${this.port}/`]);
      spawn(cmd!, args, { stdio: 'ignore' }).once('close', (code) => r(code === 0));
    });
  }
}

export interface Pull {
  ok: boolean;
  /** The client's "Total bytes received". */
  received: number;
  stderr: string;
}

function connects(port: number): Promise<boolean> {
  return new Promise<boolean>((r) => {
    const s = connect(port, '127.0.0.1', () => {
      s.destroy();
      r(true);
    });
    s.once('error', () => r(false));
  });
}
