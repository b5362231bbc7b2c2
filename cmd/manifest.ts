/**
 * The machine-readable description of every command (`pilot context`), built from the same specs that drive
 * the parser. Shape follows the reference pilotctl manifest, version "1.2".
 */
import type { CommandSpec } from './command-spec.js';
import { CLI_ERROR_CODES } from './errors.js';

export const MANIFEST_VERSION = '1.2';

export interface Manifest {
  version: string;
  name: string;
  description: string;
  global_flags: { name: string; type: string; description: string }[];
  envelope: { ok: string; error: string };
  exit_codes: Record<string, string>;
  error_codes: readonly string[];
  environment: Record<string, string>;
  commands: unknown[];
}

export function buildManifest(specs: readonly CommandSpec[]): Manifest {
  return {
    version: MANIFEST_VERSION,
    name: 'pilot',
    description: 'Pilot Protocol node and control tool (pilotctl-compatible commands)',
    global_flags: [
      { name: 'json', type: 'bool', description: 'JSON envelope output (valid anywhere in argv)' },
      {
        name: 'socket',
        type: 'string',
        description: 'daemon IPC socket (default $PILOT_SOCKET or /tmp/pilot.sock)',
      },
    ],
    envelope: {
      ok: 'stdout, one line: {"status":"ok","data":{...}}',
      error: 'stderr: {"status":"error","code":"<code>","message":"...","hint":"..."?}, exit code 1',
    },
    exit_codes: { '0': 'success', '1': 'error', '2': 'usage error (without --json)' },
    error_codes: CLI_ERROR_CODES,
    environment: {
      PILOT_SOCKET: 'daemon socket (default /tmp/pilot.sock)',
      PILOT_HOME: 'pid file, log, identity, inbox, received files, config.json (default ~/.pilot)',
      PILOT_REGISTRY: 'registry host:port',
    },
    commands: specs.map((s) => ({
      name: s.name,
      description: s.description,
      args: (s.args ?? []).map((a) => ({
        name: a.name,
        required: a.required === true,
        ...(a.variadic ? { variadic: true } : {}),
        ...(a.default !== undefined ? { default: a.default } : {}),
        description: a.description,
      })),
      flags: (s.flags ?? []).map((f) => ({
        name: f.name,
        type: f.type,
        ...(f.default !== undefined ? { default: f.default } : {}),
        ...(f.choices ? { choices: f.choices } : {}),
        description: f.description,
      })),
      returns: s.returns ?? {},
      daemon: s.daemon === true,
      ...(s.stream ? { stream: s.stream } : {}),
    })),
  };
}
