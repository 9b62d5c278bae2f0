/** The committed package files as npm writes them, and the CLI's help and version (one style for every command). */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { tzv } from './helpers.js';

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'));
const lock = JSON.parse(readFileSync(new URL('../../package-lock.json', import.meta.url), 'utf8'));

describe('package-lock.json', () => {
  it('records the install script as npm does (hasInstallScript), so npm install leaves a fresh clone unchanged', () => {
    const hasInstall = ['preinstall', 'install', 'postinstall'].some((k) => typeof pkg.scripts?.[k] === 'string');
    expect(lock.packages[''].hasInstallScript === true).toBe(hasInstall);
    expect(lock.packages[''].version).toBe(pkg.version);
  });
});

describe('tz-virtio --version and --help', () => {
  it('--version prints the package version', async () => {
    const r = await tzv(['--version']);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it.each(['run', 'bench', 'inspect', 'fuzz', 'soak', 'openamp', 'openamp host', 'openamp remote'])('%s --help shows an example and unquoted numeric defaults', async (c) => {
    const r = await tzv([...c.split(' '), '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Examples?:\n {2}npx tz-virtio /);
    expect(r.stdout).not.toMatch(/default: "[0-9]/);
  });
});
