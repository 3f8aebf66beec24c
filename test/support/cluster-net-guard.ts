import { readFile } from 'node:fs/promises';
import { expect } from 'vitest';
import type { LocalCluster } from '../../bench/lib/cluster.js';
import type { NetGuardReport } from './net-guard-report.js';

/** Closes a cluster made with `netGuard: true` and checks that no node left 127.0.0.0/8, and that the guard was loaded. */
export async function expectClusterOnLoopback(cluster: LocalCluster): Promise<void> {
  await cluster.close();
  let loopback = 0;
  for (const n of cluster.nodes) {
    const report = JSON.parse(await readFile(n.guardReport, 'utf8')) as NetGuardReport;
    expect(report.nonLoopback, n.name).toEqual([]);
    loopback += report.loopback.length;
  }
  expect(loopback).toBeGreaterThan(0);
}
