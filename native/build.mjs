/**
 * Builds the optional native AES-256-GCM addon (native/pilot-aead.c) at install time. It never fails the
 * install: without a compiler or Node's headers pilot uses node:crypto (same wire format, slower per packet).
 * PILOT_SKIP_NATIVE=1 skips the build. Run by hand: `node native/build.mjs`.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const note = (msg) => process.stderr.write(`pilot: ${msg}\n`);

function nodeGyp() {
  // npm tells lifecycle scripts where its bundled node-gyp is; by hand, look next to this node's npm.
  const candidates = [
    process.env.npm_config_node_gyp,
    resolve(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ];
  return candidates.find((p) => p && existsSync(p)) ?? null;
}

function main() {
  if (process.env.PILOT_SKIP_NATIVE === '1') {
    note('native AES-GCM addon skipped (PILOT_SKIP_NATIVE=1); node:crypto will be used');
    return;
  }
  const gyp = nodeGyp();
  if (gyp === null) {
    note('native AES-GCM addon not built (node-gyp not found); node:crypto will be used');
    return;
  }
  const args = [gyp, 'rebuild'];
  // Headers installed beside this node (a distribution's nodejs package) avoid a download.
  const prefix = resolve(dirname(process.execPath), '..');
  if (!process.env.npm_config_nodedir && existsSync(join(prefix, 'include/node/node_api.h'))) {
    args.push(`--nodedir=${prefix}`);
  }
  const r = spawnSync(process.execPath, args, {
    cwd: here,
    encoding: 'utf8',
    timeout: 180_000,
    maxBuffer: 16 << 20,
  });
  if (r.status === 0) {
    const out = join(here, 'build/Release/pilot_aead.node');
    // Load it (RTLD_NOW) and round-trip a frame in a child: a build that crashes or does not load is removed.
    const probe = `const m = { exports: {} };
      process.dlopen(m, ${JSON.stringify(out)}, require('node:os').constants.dlopen.RTLD_NOW);
      const a = m.exports, ctx = a.create(Buffer.alloc(32, 1)), b = Buffer.alloc(12 + 5 + 16, 2);
      a.seal(ctx, b, 0, Buffer.alloc(0), 12, 5);
      process.exit(a.open(ctx, b, 0, Buffer.alloc(0), 12, 5) && b[12] === 2 ? 0 : 1);`;
    const p = spawnSync(process.execPath, ['-e', probe], { encoding: 'utf8', timeout: 30_000 });
    if (p.status !== 0) {
      rmSync(out, { force: true });
      note(
        `native AES-GCM addon built but failed its load check (${p.signal ?? p.status}); node:crypto will be used`,
      );
      return;
    }
    writeFileSync(`${out}.sha256`, `${createHash('sha256').update(readFileSync(out)).digest('hex')}\n`);
    note('built the native AES-GCM addon (native/build/Release/pilot_aead.node)');
    return;
  }
  // The compiler's first error says more than node-gyp's closing lines.
  const lines = `${r.stderr ?? ''}\n${r.stdout ?? ''}`.split('\n').map((l) => l.trim());
  const gypErrors = lines
    .filter((l) => l.startsWith('gyp ERR!'))
    .slice(0, 2)
    .join(' | ');
  const why =
    r.error?.message ??
    lines.find((l) => /\berror\b/i.test(l) && !l.startsWith('gyp')) ??
    (gypErrors || `exit ${r.status ?? r.signal}`);
  note(`native AES-GCM addon not built (${why}); node:crypto will be used`);
}

main();
