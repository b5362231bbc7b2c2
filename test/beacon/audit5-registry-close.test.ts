/** Audit 5: close() must not wait on a registry call that never answers, nor call the registry afterwards. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { BeaconState, createBeacon, runBeaconCli, type BeaconRegistry } from '../../src/beacon/index.js';
import { waitFor } from './util.js';

/** A registry whose calls hang until released; records every call. */
function stalledRegistry(): BeaconRegistry & {
  calls: string[];
  release: () => void;
  closed: number;
  close: () => void;
} {
  const calls: string[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => {
    release = resolve;
  });
  const r = {
    calls,
    closed: 0,
    release: () => release(),
    close(): void {
      r.closed++;
      release();
    },
    async beaconRegister(): Promise<unknown> {
      calls.push('register');
      await gate;
      return { type: 'beacon_register_ok' };
    },
    async beaconList(): Promise<{ beacons: [] }> {
      calls.push('list');
      await gate;
      return { beacons: [] };
    },
  };
  return r;
}

/** Resolves true when `p` settles within `ms`, false otherwise (the timer is cleared either way). */
async function settlesWithin(p: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p.then(() => true), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('audit5: registry link and close()', () => {
  it('close() resolves while a beacon_register call is still pending, and no registry call follows', async () => {
    const registry = stalledRegistry();
    const b = await createBeacon({ host: '127.0.0.1', port: 0, beaconId: 3, registry });
    try {
      await waitFor(() => registry.calls.length === 1, 2000, 'beacon_register');
      expect(await settlesWithin(b.close(), 1000)).toBe(true);
      expect(b.state).toBe(BeaconState.Closed);
      // The stalled call answers late: the closed beacon must not go on to beacon_list.
      registry.release();
      await new Promise((r) => setImmediate(r));
      await new Promise((r) => setImmediate(r));
      expect(registry.calls).toEqual(['register']);
      expect(b.peers()).toEqual([]);
    } finally {
      registry.release();
      await b.close();
    }
  });

  it('pilot beacon --registry closes the registry client it created when it stops', async () => {
    const registry = stalledRegistry();
    const ac = new AbortController();
    const out = new PassThrough().resume();
    const err = new PassThrough().resume();
    const done = runBeaconCli(
      ['--addr', '127.0.0.1:0', '--beacon-id', '4', '--registry', '127.0.0.1:1', '--log-level', 'silent'],
      {
        signal: ac.signal,
        stdout: out,
        stderr: err,
        handleSignals: false,
        createRegistry: () => registry,
      },
    );
    try {
      await waitFor(() => registry.calls.length === 1, 3000, 'beacon_register');
      ac.abort();
      expect(await settlesWithin(done, 1000)).toBe(true);
      expect(await done).toBe(0);
      expect(registry.closed).toBe(1);
    } finally {
      registry.release();
      await done;
    }
  });

  it('pilot beacon closes the registry client also when the beacon cannot start', async () => {
    const registry = stalledRegistry();
    const err = new PassThrough();
    let text = '';
    err.on('data', (d: Buffer) => (text += d.toString()));
    const code = await runBeaconCli(
      ['--addr', '127.0.0.1:0', '--sync-interval', '0', '--beacon-id', '4', '--registry', '127.0.0.1:1'],
      {
        stdout: new PassThrough().resume(),
        stderr: err,
        handleSignals: false,
        createRegistry: () => registry,
      },
    );
    expect(code).toBe(2);
    expect(text).toContain('ERR_BEACON_CONFIG');
    expect(registry.closed).toBe(1);
    expect(registry.calls).toEqual([]);
  });
});
