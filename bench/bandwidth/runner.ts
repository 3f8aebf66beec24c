import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { scenarioBound, spread } from './bound.js';
import { LoadSampler } from './load.js';
import type { LinkBytes, NetHost } from '../lib/netns.js';
import type { Image, Method, MethodContext, ScenarioName, StepResult } from './types.js';

export interface RunSpec {
  n: number;
  rate: number;
  image: Image;
  scenarios: ScenarioName[];
  pieceLength: number;
  work: string;
  /** bench --netns: the hosts' namespaces (see MethodContext.hosts). */
  hosts?: NetHost[];
  /** bench --netns: the kernel's byte counters of each host's link, in the order of `hosts`. */
  links?: { counters(): Promise<LinkBytes[]> };
}

/** Bytes each receiving node needs in a scenario: S in the bound. */
export function bytesPerNode(scenario: ScenarioName, image: Image, scenarios: ScenarioName[]): number {
  if (scenario === 'cold') return image.v1Bytes;
  if (scenario === 'incremental') return image.delta.bytes;
  return scenarios.includes('incremental') ? image.v2Bytes : image.v1Bytes;
}

/** Time allowed per step: rsync's expected time (the slowest method by design), thrice, plus start-up. */
function timeoutMs(spec: RunSpec, scenario: ScenarioName): number {
  const s = bytesPerNode(scenario, spec.image, spec.scenarios);
  const expected = scenario === 'bootstrap' ? s / spec.rate : (spec.n * s) / spec.rate;
  return Math.round((3 * expected + 60) * 1000);
}

const openSessions = new Set<{ close(): Promise<void> }>();

/** Stops every method's processes (rsync daemons, node processes): for an interrupted bench. */
export async function closeOpenSessions(): Promise<void> {
  await Promise.allSettled([...openSessions].map((s) => s.close()));
}

/** Runs every scenario of one method at one N, in order, and turns its figures into result rows. */
export async function runMethod(method: Method, spec: RunSpec, log: (line: string) => void): Promise<StepResult[]> {
  const work = join(spec.work, `${method.name}-n${spec.n}`);
  await mkdir(work, { recursive: true });
  const ctx: MethodContext = {
    n: spec.n,
    rate: spec.rate,
    image: spec.image,
    work,
    scenarios: spec.scenarios,
    pieceLength: spec.pieceLength,
    ...(spec.hosts && { hosts: spec.hosts }),
    timeoutMs: (s) => timeoutMs(spec, s),
    log: (line) => log(`  ${method.name}: ${line}`),
  };
  const opened = performance.now();
  const session = await method.open(ctx);
  openSessions.add(session);
  log(`  ${method.name}: ${spec.n} nodes up in ${((performance.now() - opened) / 1000).toFixed(1)} s`);
  const rows: StepResult[] = [];
  try {
    for (const scenario of spec.scenarios) {
      const sampler = new LoadSampler();
      const linksBefore = await spec.links?.counters();
      const figures = await session.step(scenario);
      const load = sampler.stop();
      const linksAfter = await spec.links?.counters();
      const s = bytesPerNode(scenario, spec.image, spec.scenarios);
      const receivers = figures.completions.length;
      const boundSeconds = scenarioBound(scenario, spec.n, s, spec.rate);
      const times = spread(figures.completions);
      const row: StepResult = {
        method: method.name,
        scenario,
        n: spec.n,
        bytesPerNode: s,
        receivers,
        ...figures,
        ...times,
        boundSeconds,
        ratio: times.last === null || boundSeconds === 0 ? null : times.last / boundSeconds,
        load,
        ...(linksBefore && linksAfter && { links: linkDelta(linksBefore, linksAfter, spec.n) }),
      };
      rows.push(row);
      log(summaryLine(row));
    }
  } finally {
    openSessions.delete(session);
    await session.close();
  }
  return rows;
}

/** The publisher's (host 0) bytes sent and the receivers' (hosts 1 to n + 1: the frontends and the late joiner) received. */
function linkDelta(before: LinkBytes[], after: LinkBytes[], n: number): { publisherSent: number; received: number } {
  let received = 0;
  for (let i = 1; i <= n + 1; i++) received += after[i]!.received - before[i]!.received;
  return { publisherSent: after[0]!.sent - before[0]!.sent, received };
}

function summaryLine(r: StepResult): string {
  const t = (v: number | null) => (v === null ? 'n/a' : `${v.toFixed(2)} s`);
  return (
    `  ${r.scenario.padEnd(11)} N=${String(r.n).padEnd(3)} ${r.method.padEnd(11)} first ${t(r.first)}, median ${t(r.median)}, last ${t(r.last)}` +
    `${r.incomplete > 0 ? ` (${r.incomplete} incomplete)` : ''}; bound ${r.boundSeconds.toFixed(2)} s` +
    `${r.ratio === null ? '' : ` (x${r.ratio.toFixed(2)})`}; publisher sent ${(r.publisherSent / 1e6).toFixed(1)} MB, ` +
    `received ${(r.received / 1e6).toFixed(1)} MB; CPU ${(r.load.cpuBusy * 100).toFixed(0)}% (ours ${(r.load.ownCpu * 100).toFixed(0)}%, ` +
    `${r.load.ownCpuSeconds.toFixed(1)} CPU-s)` +
    `${r.links ? `; links (kernel): publisher sent ${(r.links.publisherSent / 1e6).toFixed(1)} MB, received ${(r.links.received / 1e6).toFixed(1)} MB` : ''}` +
    `${r.load.cpuBound ? ' [machine-bound]' : ''}`
  );
}
