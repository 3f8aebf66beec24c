const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(n: number): string {
  let i = 0;
  let v = n;
  while (v >= 1024 && i < UNITS.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${UNITS[i]}`;
}

/** Two-column "key: value" block, keys aligned. */
export function formatFields(fields: Array<[string, string | number]>): string {
  const width = Math.max(...fields.map(([k]) => k.length));
  return fields.map(([k, v]) => `${(k + ':').padEnd(width + 1)} ${v}`).join('\n');
}

export function printJson(value: unknown): void {
  process.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

/** Prints a running node's word that a command waits for its current step (WaitingNotice); other notices are not this one's. */
function noteWaiting(notice: unknown): void {
  const waiting = (notice as { waiting?: unknown } | null)?.waiting;
  if (typeof waiting === 'string') process.stderr.write(`waiting: ${waiting}\n`);
}

/** What a command asking the running node passes callControl: the node's word that it waits, unless `quiet`. */
export function waitingNotes(quiet: boolean): { onNotice?: (notice: unknown) => void } {
  return quiet ? {} : { onNotice: noteWaiting };
}

/** Tells the operator that the running `serve` carried out the command, not this process. */
export function noteDoneByNode(dataDir: string, what = 'done'): void {
  process.stderr.write(`${what} by the running node (chunkswarm serve on ${dataDir})\n`);
}
