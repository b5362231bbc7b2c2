#!/usr/bin/env node
/**
 * The `pilot` executable: `pilot daemon` and the pilotctl-style client commands. See docs/cli.md.
 */
import { tuneDaemonGc } from '../src/node/gc-tuning.js';
import { tuneClientJit } from './client-jit.js';
import { main } from './main.js';

/** Exit status when stdout/stderr's reader went away (EPIPE): 128 + SIGPIPE, as a pilotctl killed by SIGPIPE. */
const EXIT_BROKEN_PIPE = 141;

/** Resolves once everything written to `stream` has been handed to the OS (writes to pipes are asynchronous). */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  if (stream.writableLength === 0 || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => stream.write('', () => resolve()));
}

// A reader that goes away (`pilot context | head -1`) ends the command quietly instead of with a stack trace.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) =>
    process.exit(err.code === 'EPIPE' ? EXIT_BROKEN_PIPE : 1),
  );
}

// Every pilot process runs with the daemon's V8 settings: `bench`, `connect` and `send-file` move as many
// buffers through the client process as the daemon moves.
tuneDaemonGc();

// Commands that talk to a daemon are short-lived clients: see client-jit.ts.
const code = await main(process.argv.slice(2), {
  beforeRun: (spec) => {
    if (spec.daemon) tuneClientJit();
  },
});
process.exitCode = code;
// A slow reader gets the whole output: wait until it took it, then exit even if a handle lingers (stdin, a
// socket in its close linger).
await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
setTimeout(() => process.exit(code), 250).unref();
