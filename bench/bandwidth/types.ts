/** The shapes shared by the bandwidth benchmark's scenarios, methods and reports. */

export const SCENARIOS = ['cold', 'incremental', 'bootstrap'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

export interface ImageDelta {
  /** Bytes a node must receive at the least: inserted, appended and new-file bytes. */
  bytes: number;
  edited: number;
  appended: number;
  added: number;
  removed: number;
}

/** The generated image: release 1 in `v1`, release 2 (1% of its files changed) in `v2`. */
export interface Image {
  /** Both trees are directories named IMAGE_DIR, so a torrent of either has the same name. */
  v1: string;
  v2: string;
  v1Bytes: number;
  v2Bytes: number;
  files: number;
  delta: ImageDelta;
}

export const IMAGE_DIR = 'image';

import type { NetHost } from '../lib/netns.js';

/** What one method needs to run its steps for one N. */
export interface MethodContext {
  n: number;
  /** Emulated link rate, bytes per second, for every node's upload and download. */
  rate: number;
  image: Image;
  /** A fresh directory for this method and N. */
  work: string;
  /** The scenarios to run, always starting with cold. */
  scenarios: ScenarioName[];
  /** Torrent piece length (BitTorrent baselines). */
  pieceLength: number;
  /**
   * bench --netns: one network namespace per host, in order: the publisher (seed, rsync daemon),
   * the N frontends, the node that joins late. The kernel shapes every link at `rate`, so the
   * method turns its own rate limits off. Absent: every node on 127.0.0.1 with its own limits.
   */
  hosts?: NetHost[];
  /** Per step: give up on nodes not complete by then. */
  timeoutMs(scenario: ScenarioName): number;
  log(line: string): void;
}

/** One step (scenario) of one method, as the method measured it. */
export interface StepFigures {
  /** Seconds from the step's start to each receiving node's completion; null = not complete. */
  completions: Array<number | null>;
  /** Payload bytes the publisher (seed, rsync daemon) sent during the step. */
  publisherSent: number;
  /** Payload bytes all receiving nodes received during the step (what crossed the wire). */
  received: number;
  /** Work done before the clock starts (publish, torrent creation), seconds. */
  prepSeconds?: number;
  /**
   * Seconds from the step's start to the first payload byte each receiving node got (null: none),
   * where the method measures it (bootstrap: the new node's time to first byte).
   */
  firstByte?: Array<number | null>;
  note?: string;
}

export interface MethodSession {
  step(scenario: ScenarioName): Promise<StepFigures>;
  close(): Promise<void>;
}

export type Availability = { ok: true } | { ok: false; reason: string };

export interface Method {
  name: string;
  /** How it runs and how the caps are applied (netns: by the kernel's links), for the report. */
  describe(rate: number, netns: boolean): string;
  available(): Promise<Availability>;
  open(ctx: MethodContext): Promise<MethodSession>;
}

export interface LoadSummary {
  /** Mean fraction of all cores busy during the step (whole machine, from /proc/stat). */
  cpuBusy: number;
  /** Mean fraction of all cores used by the benchmark's own processes (nodes, baselines). */
  ownCpu: number;
  /** CPU seconds the benchmark's own processes used during the step (all cores). */
  ownCpuSeconds: number;
  /** Highest 1-second busy fraction. */
  cpuBusyPeak: number;
  /** Highest 1-minute load average seen. */
  loadavgMax: number;
  /** True when the machine, not the emulated link, probably set the pace. */
  cpuBound: boolean;
}

/** One row of the results: a method's step at one N, with the bound and the machine load. */
export interface StepResult extends StepFigures {
  method: string;
  scenario: ScenarioName;
  n: number;
  /** Bytes each receiving node needs (S in the bound). */
  bytesPerNode: number;
  receivers: number;
  first: number | null;
  median: number | null;
  last: number | null;
  incomplete: number;
  boundSeconds: number;
  /** last / bound (null when a node did not complete). */
  ratio: number | null;
  load: LoadSummary;
  /**
   * bench --netns: bytes the kernel counted on the links during the step (headers, handshakes,
   * DHT and every other protocol included): what the publisher's link sent and what the
   * receiving nodes' links received.
   */
  links?: { publisherSent: number; received: number };
}
