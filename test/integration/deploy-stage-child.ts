/**
 * Child process of deploy-crash.test.ts: stages a release slowly from another node's data dir,
 * printing one JSON line per event, until it is killed. Usage: <config> <source data dir> <version> <delay ms>
 */
import { Deployer, importFromDataDir, loadConfig } from '../../src/index.js';

const [configPath, sourceData, versionArg, delayArg] = process.argv.slice(2) as [string, string, string, string];
const say = (o: object) => process.stdout.write(JSON.stringify(o) + '\n');

const config = await loadConfig(configPath);
const deployer = await Deployer.open(config);
const { release, source } = await importFromDataDir({
  from: sourceData,
  version: Number(versionArg),
  publisherKey: Buffer.from(config.cluster.publisherKey, 'hex'),
  releases: deployer.releases,
  objects: deployer.objects,
});
const stager = await deployer.stage(release, { flushEvery: { pieces: 4, ms: 60_000 }, onFlush: (n) => say({ recorded: n }) });
const missing = stager.missing();
say({ missing: missing.length, pieces: stager.pieces.length });
for (const i of missing) {
  await new Promise((r) => setTimeout(r, Number(delayArg)));
  const parts = await Promise.all(stager.pieces[i]!.chunks.map((c) => source(c, null)));
  say({ writing: i });
  await stager.writePiece(i, Buffer.concat(parts.map((p) => p!)));
}
say({ done: true });
setInterval(() => undefined, 1000);
