import { execFile, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';

/**
 * syncfs(2) of the file system holding a path, which Node does not offer: `sync -f`. Starting a
 * process from a node that holds 200-500 MB costs 10-25 ms of CPU (fork copies its page tables),
 * and a node staging a release syncs every few seconds. So one small shell started once runs
 * `sync -f` for each path written to its stdin and answers with the exit status; it stops when this
 * process does (end of its stdin), and does not keep this process alive.
 */
class SyncHelper {
  private child: ChildProcessWithoutNullStreams | null = null;
  private readonly waiting: Array<{ resolve: () => void; reject: (err: Error) => void; path: string }> = [];
  private out = '';
  private errors = '';

  sync(path: string): Promise<void> {
    // A path the line protocol cannot carry goes to a process of its own.
    if (/[\n\r\0]/.test(path)) return syncByProcess(path);
    const child = this.child ?? this.start();
    return new Promise((resolve, reject) => {
      this.waiting.push({ resolve, reject, path });
      this.setRef(true);
      child.stdin.write(`${path}\n`);
    });
  }

  private start(): ChildProcessWithoutNullStreams {
    const child = spawn('/bin/sh', ['-c', 'while IFS= read -r p; do sync -f -- "$p" 2>&1; echo "=$?"; done'], { stdio: 'pipe' });
    this.child = child;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => this.onOutput(d));
    child.stderr.resume();
    child.stdin.on('error', () => undefined);
    const gone = (err: Error) => {
      if (this.child !== child) return;
      this.child = null;
      this.out = '';
      this.errors = '';
      for (const w of this.waiting.splice(0)) w.reject(err);
    };
    child.on('error', gone);
    child.on('exit', (code, signal) => gone(new Error(`the sync helper (/bin/sh) ended (${signal ?? `exit ${code}`})`)));
    this.setRef(false);
    return child;
  }

  private onOutput(d: string): void {
    this.out += d;
    let nl: number;
    while ((nl = this.out.indexOf('\n')) >= 0) {
      const line = this.out.slice(0, nl);
      this.out = this.out.slice(nl + 1);
      if (!/^=\d+$/.test(line)) {
        this.errors += `${line}\n`;
        continue;
      }
      const w = this.waiting.shift();
      const status = Number(line.slice(1));
      const text = this.errors.trim();
      this.errors = '';
      if (!w) continue;
      if (status === 0) w.resolve();
      else w.reject(new Error(text || `sync -f ${w.path} exited ${status}`));
    }
    if (this.waiting.length === 0) this.setRef(false);
  }

  /** Keeps the event loop alive only while an answer is awaited. */
  private setRef(on: boolean): void {
    const c = this.child;
    if (!c) return;
    for (const h of [c, c.stdin, c.stdout, c.stderr] as Array<{ ref?: () => void; unref?: () => void }>) (on ? h.ref : h.unref)?.call(h);
  }
}

function syncByProcess(path: string): Promise<void> {
  return new Promise((resolve, reject) => execFile('sync', ['-f', path], (err) => (err ? reject(err) : resolve())));
}

const helper = new SyncHelper();

/** `sync -f path` through the helper; rejects with the command's message if it fails. */
export function syncfs(path: string): Promise<void> {
  return helper.sync(path);
}
