import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';

/** A real rsync daemon on 127.0.0.1 serving directories as read-only modules: the baseline the users run today. */
export class RsyncDaemon {
  /** Clients still running (a step that timed out); close() ends them. */
  private readonly running = new Set<ChildProcess>();

  private constructor(private readonly proc: ChildProcess, readonly port: number) {}

  /** Starts a daemon (config written into `work`) serving each module name -> directory. */
  static async start(work: string, modules: Record<string, string>): Promise<RsyncDaemon> {
    const conf = join(work, 'rsyncd.conf');
    await writeFile(conf, [
      // Root can read the mkdtemp (0700) trees only as root; no chroot needed on loopback.
      'uid = root\ngid = root\nuse chroot = no\nmax connections = 0\n',
      ...Object.entries(modules).map(([name, path]) => `[${name}]\n  path = ${path}\n  read only = yes\n`),
    ].join('\n'));
    const port = await freeTcpPort();
    const proc = spawn('rsync', ['--daemon', '--no-detach', `--config=${conf}`, `--port=${port}`, '--address=127.0.0.1'], { stdio: 'ignore' });
    await waitListening(port);
    return new RsyncDaemon(proc, port);
  }

  /**
   * One client pull (`rsync -a --delete --stats`) of a module into `dest`; resolves when it exits,
   * with the client's pid (for its CPU and memory) reported as soon as it starts.
   */
  pull(module: string, dest: string, o: { bwlimitKiB?: number; onStart?: (pid: number) => void } = {}): Promise<Pull> {
    const args = ['-a', '--delete', '--stats', ...(o.bwlimitKiB ? [`--bwlimit=${o.bwlimitKiB}`] : []), `rsync://127.0.0.1:${this.port}/${module}/`, `${dest}/`];
    return new Promise((resolve) => {
      const p = spawn('rsync', args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
    if (this.proc.exitCode !== null) return;
    const exited = new Promise((r) => this.proc.once('exit', r));
    this.proc.kill('SIGTERM');
    await exited;
  }
}

export interface Pull {
  ok: boolean;
  /** The client's "Total bytes received". */
  received: number;
  stderr: string;
}

function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

async function waitListening(port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.once('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`rsync daemon did not listen on 127.0.0.1:${port}`);
}
