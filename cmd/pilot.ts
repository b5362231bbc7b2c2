#!/usr/bin/env node
/**
 * The `pilot` executable: `pilot daemon` and the pilotctl-style client commands. See docs/cli.md.
 */
import { tuneDaemonGc } from '../src/node/gc-tuning.js';
import { main } from './main.js';

// Every pilot process runs with the daemon's V8 settings: `bench`, `connect` and `send-file` move as many
// buffers through the client process as the daemon moves.
tuneDaemonGc();

const code = await main(process.argv.slice(2));
process.exitCode = code;
// Exit even if a handle lingers (stdin, a socket in its close linger); writes to pipes/files are synchronous.
setTimeout(() => process.exit(code), 250).unref();
