#!/usr/bin/env node
// Builds the tz_shm addon (native/shm.cc -> build/Release/tz_shm.node) with the node-gyp that ships inside npm,
// against the headers of the running Node (no header or prebuilt download). Runs as the package's "install" script.
//
// It builds in a scratch copy of binding.gyp + native/ and then renames the result over build/Release/tz_shm.node, so
// a rebuild never leaves a moment without an addon for processes already running from this tree.
//
// It never fails the install: the in-process modes need no addon, so on failure it prints why and how to retry,
// and exits 0. The process features then report the same reason when used (src/host/native.ts).
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdtempSync, renameSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const statusFile = join(root, 'build', 'tz_shm.status.json');

function findNodeGyp() {
  const candidates = [];
  if (process.env.npm_config_node_gyp) candidates.push(process.env.npm_config_node_gyp);
  // node-gyp bundled with npm: <prefix>/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js
  const nodeDir = dirname(process.execPath);
  candidates.push(join(nodeDir, '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  if (process.env.npm_execpath) {
    candidates.push(join(dirname(process.env.npm_execpath), '..', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  }
  candidates.push(join(root, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((c) => existsSync(c));
}

/** Headers of the running Node: `<prefix>/include/node/node.h` (distro builds) or a nodedir given by npm config. */
function findNodeDir() {
  const fromEnv = process.env.npm_config_nodedir;
  if (fromEnv && existsSync(join(fromEnv, 'include', 'node', 'node.h'))) return fromEnv;
  const prefix = resolve(dirname(process.execPath), '..');
  if (existsSync(join(prefix, 'include', 'node', 'node.h'))) return prefix;
  return undefined;
}

function record(ok, reason) {
  try {
    mkdirSync(dirname(statusFile), { recursive: true });
    writeFileSync(statusFile, JSON.stringify({ ok, reason, node: process.version, at: new Date().toISOString() }, null, 2) + '\n');
  } catch {
    // the status file only improves error messages; never fail on it
  }
}

function warn(reason) {
  record(false, reason);
  process.stderr.write(
    `\ntz-virtio: warning: the native shared-memory addon was not built (${reason}).\n` +
      '  In-process modes work without it; `--isolation process` and `tz-virtio openamp` need it.\n' +
      '  Needs: Linux, a C++ compiler (g++), make, python3 and the Node headers. Retry with: node scripts/build-native.mjs\n\n',
  );
  process.exit(0);
}

if (process.platform !== 'linux') warn(`platform ${process.platform} is not supported (Linux only)`);
if (process.env.TZ_VIRTIO_SKIP_NATIVE) warn('TZ_VIRTIO_SKIP_NATIVE is set');
const gyp = findNodeGyp();
if (!gyp) warn('node-gyp not found (it ships with npm; set npm_config_node_gyp to its node-gyp.js)');
const nodedir = findNodeDir();
if (!nodedir) warn('Node headers not found next to the node binary (set npm_config_nodedir to a Node source/headers dir)');

const scratch = mkdtempSync(join(tmpdir(), 'tz-native-build-'));
const finish = () => rmSync(scratch, { recursive: true, force: true });
copyFileSync(join(root, 'binding.gyp'), join(scratch, 'binding.gyp'));
cpSync(join(root, 'native'), join(scratch, 'native'), { recursive: true });
const args = [gyp, 'rebuild', `--nodedir=${nodedir}`, '--release', '--jobs=2'];
const r = spawnSync(process.execPath, args, { cwd: scratch, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
if (r.error) {
  finish();
  warn(`could not run node-gyp: ${r.error.message}`);
}
if (r.status !== 0) {
  const tail = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-15).join('\n');
  process.stderr.write(tail + '\n');
  finish();
  warn(`node-gyp exited with status ${r.status}`);
}
const built = join(scratch, 'build', 'Release', 'tz_shm.node');
if (!existsSync(built)) {
  finish();
  warn('node-gyp succeeded but build/Release/tz_shm.node is missing');
}
const dest = join(root, 'build', 'Release', 'tz_shm.node');
mkdirSync(dirname(dest), { recursive: true });
copyFileSync(built, `${dest}.tmp-${process.pid}`);
renameSync(`${dest}.tmp-${process.pid}`, dest); // atomic: a loader sees the old file or the new one, never none
finish();
record(true, 'built');
if (!process.env.npm_config_loglevel || process.env.npm_config_loglevel !== 'silent') {
  process.stdout.write('tz-virtio: built native addon build/Release/tz_shm.node\n');
}
