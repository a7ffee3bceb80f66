/**
 * The README's two commands on a bare machine (Node and npm only): CI's first phase (.ci/run) runs `npm test`
 * in a mount namespace that hides Debian's Chromium and Jupyter, with TOEPLITZ_CI_BARE=1. There these tests
 * check that it really is blind, and that what the main job and the tests need still comes through npm: the
 * Chromium shipped in @sparticuz/chromium renders figures, and notebooks run on our own Jupyter client.
 * Elsewhere (a developer's machine with apt packages) the check of blindness has nothing to check.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { findBrowser } from '../src/plot/export.js';

const bare = process.env.TOEPLITZ_CI_BARE === '1';

test('CI phase 1 is blind to apt: no system Chromium, no Jupyter for the system Python', { skip: !bare && 'only in CI phase 1 (TOEPLITZ_CI_BARE=1)' }, () => {
  for (const p of ['/usr/lib/chromium/chromium', '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/jupyter']) {
    assert.ok(!existsSync(p), `${p} is visible in the bare phase`);
  }
  if (existsSync('/usr/bin/python3')) {
    const r = spawnSync('/usr/bin/python3', ['-c', 'import nbclient'], { encoding: 'utf8' });
    assert.notEqual(r.status, 0, 'the system Python can import nbclient in the bare phase');
  }
});

test('a browser for figures comes through npm where no system one is installed', async (t) => {
  if (process.platform !== 'linux' || process.arch !== 'x64') return t.skip('@sparticuz/chromium ships a linux-x64 binary only');
  const found = await findBrowser();
  assert.ok(found, 'no browser at all: @sparticuz/chromium is an optional dependency and installs on linux-x64');
  if (bare) assert.equal(found.source, '@sparticuz/chromium');
});
