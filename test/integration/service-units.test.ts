import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../bench/lib/results.js';
import { CLI } from '../support/cli.js';

const UNIT = join(repoRoot, 'contrib', 'systemd', 'chunkswarm.service');
const RC = join(repoRoot, 'contrib', 'rc.d', 'chunkswarm');
const hasSystemdAnalyze = spawnSync('systemd-analyze', ['--version']).status === 0;

describe('service units', () => {
  it('the systemd unit runs serve as a dedicated user, read-only but for the data and live directories, restarted on failure', async () => {
    const unit = await readFile(UNIT, 'utf8');
    for (const line of ['User=chunkswarm', 'ProtectSystem=strict', 'ReadWritePaths=/var/lib/chunkswarm /webroot', 'Restart=on-failure', 'NoNewPrivileges=true']) {
      expect(unit.split('\n'), line).toContain(line);
    }
    expect(unit).toMatch(/^ExecStart=\/usr\/local\/bin\/chunkswarm -c \S+ serve /m);
  });

  it.runIf(hasSystemdAnalyze)('passes systemd-analyze verify (with ExecStart pointing at this build)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'cs-unit-'));
    try {
      // verify checks that the command exists: the installed path is not there on a build machine.
      const unit = (await readFile(UNIT, 'utf8')).replace(/^ExecStart=\/usr\/local\/bin\/chunkswarm/m, `ExecStart=${process.execPath} ${CLI}`);
      const path = join(dir, 'chunkswarm.service');
      await writeFile(path, unit);
      const r = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
      expect([r.status, r.stderr.trim()]).toEqual([0, '']);
      // A real check: systemd-analyze exits 0 on a bad value but says so on stderr.
      await writeFile(path, unit.replace('ProtectSystem=strict', 'ProtectSystem=strikt'));
      const bad = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8' });
      expect(bad.stderr).toMatch(/protect system value.*strikt/i);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it.skipIf(hasSystemdAnalyze)('systemd-analyze verify: skipped, systemd-analyze is not installed here', () => {
    process.stdout.write('skipping systemd-analyze verify: systemd-analyze not found (apt-get install systemd)\n');
  });

  it('the FreeBSD rc.d script is valid sh and runs serve under daemon(8) with restart', async () => {
    const rc = await readFile(RC, 'utf8');
    expect(rc).toMatch(/^# PROVIDE: chunkswarm$/m);
    expect(rc).toMatch(/command="\/usr\/sbin\/daemon"/);
    expect(rc).toMatch(/-r -R 5 .* serve --log-format json/);
    expect(existsSync('/bin/sh')).toBe(true);
    execFileSync('/bin/sh', ['-n', RC]);
  });
});
