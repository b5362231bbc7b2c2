/**
 * Real kernel NATs for tests (root only): network namespaces joined by veth pairs.
 *
 *   host-a ── nat-a ──┐                  192.168.<i>.2 → 192.168.<i>.1 | 10.201.<i>.2 → 10.201.<i>.1
 *                     ├── inet (registry + beacon on 10.201.1.1, forwarding between the NATs)
 *   host-b ── nat-b ──┘
 *
 * Each nat namespace forwards and MASQUERADEs its LAN out of its WAN and, by default, drops unsolicited
 * packets to the router itself (`INPUT -i wan -j DROP`, as home routers do). Without that rule a peer's
 * early packet creates a conntrack entry for the router itself, and the NAT then gives the inside host's
 * reply to that peer another source port (symmetric behaviour for that peer). Names carry a random
 * suffix; `destroy()` (also run at process exit) kills what it started and deletes every namespace.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function run(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 });
}

/** Why kernel NAT tests cannot run here, or null when they can (root, `ip netns`, `iptables` in a netns). */
export function kernelNatUnavailable(): string | null {
  if (process.platform !== 'linux') return 'not Linux';
  if (process.getuid?.() !== 0) return 'not running as root';
  for (const [cmd, arg] of [
    ['ip', '-V'],
    ['iptables', '-V'],
  ]) {
    try {
      run(cmd, [arg]);
    } catch {
      return `\`${cmd}\` is not available (Debian packages: iproute2, iptables)`;
    }
  }
  const probe = `pilot-probe-${randomBytes(3).toString('hex')}`;
  try {
    run('ip', ['netns', 'add', probe]);
  } catch (err) {
    return `cannot create a network namespace: ${(err as { stderr?: string }).stderr?.trim() ?? err}`;
  }
  try {
    run('ip', [
      'netns',
      'exec',
      probe,
      'iptables',
      '-t',
      'nat',
      '-A',
      'POSTROUTING',
      '-o',
      'lo',
      '-j',
      'MASQUERADE',
    ]);
    run('ip', ['netns', 'exec', probe, 'sysctl', '-qw', 'net.ipv4.ip_forward=1']);
  } catch (err) {
    return `iptables NAT does not work in a namespace: ${(err as { stderr?: string }).stderr?.trim() ?? err}`;
  } finally {
    try {
      run('ip', ['netns', 'del', probe]);
    } catch {
      // best effort
    }
  }
  return null;
}

/** A child process speaking JSON lines on stdout (events, replies) and stdin (commands). */
export class LineChild {
  readonly child: ChildProcess;
  readonly lines: Record<string, unknown>[] = [];
  readonly stderr: string[] = [];
  #waiters: {
    pred: (m: Record<string, unknown>) => boolean;
    resolve: (m: Record<string, unknown>) => void;
  }[] = [];
  #next = 1;

  constructor(child: ChildProcess) {
    this.child = child;
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let m: Record<string, unknown>;
      try {
        m = JSON.parse(line) as Record<string, unknown>;
      } catch {
        this.stderr.push(line);
        return;
      }
      const w = this.#waiters.find((x) => x.pred(m));
      if (w) {
        this.#waiters = this.#waiters.filter((x) => x !== w);
        w.resolve(m);
      } else {
        this.lines.push(m);
      }
    });
    child.stderr?.on('data', (d: Buffer) => this.stderr.push(d.toString()));
  }

  /** The first line (already received or future) matching `pred`. */
  next(pred: (m: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<Record<string, unknown>> {
    const i = this.lines.findIndex(pred);
    if (i >= 0) return Promise.resolve(this.lines.splice(i, 1)[0]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((x) => x !== w);
        reject(
          new Error(`no matching line within ${timeoutMs} ms; stderr: ${this.stderr.join('').slice(-2000)}`),
        );
      }, timeoutMs);
      const w = {
        pred,
        resolve: (m: Record<string, unknown>) => {
          clearTimeout(timer);
          resolve(m);
        },
      };
      this.#waiters.push(w);
    });
  }

  async call<T = unknown>(cmd: string, args: Record<string, unknown> = {}, timeoutMs = 30_000): Promise<T> {
    const id = this.#next++;
    this.child.stdin!.write(`${JSON.stringify({ id, cmd, ...args })}\n`);
    const r = await this.next((m) => m.id === id, timeoutMs);
    if (r.ok !== true) throw new Error(`${cmd} failed: ${String(r.error)}`);
    return r.result as T;
  }

  /** Close stdin (the fixture's stop signal), then SIGTERM, then SIGKILL. */
  async stop(): Promise<void> {
    const c = this.child;
    if (c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.stdin?.end();
    const t1 = setTimeout(() => c.kill('SIGTERM'), 2000);
    const t2 = setTimeout(() => c.kill('SIGKILL'), 4000);
    await exited;
    clearTimeout(t1);
    clearTimeout(t2);
  }
}

export class KernelNatLab {
  readonly id = randomBytes(3).toString('hex');
  readonly namespaces: string[] = [];
  readonly #children: LineChild[] = [];
  readonly #onExit = (): void => this.#deleteNamespaces();
  #destroyed = false;

  constructor() {
    process.once('exit', this.#onExit);
  }

  ns(name: string): string {
    return `pilot-${this.id}-${name}`;
  }

  #ip(...args: string[]): void {
    run('ip', args);
  }

  #exec(ns: string, ...args: string[]): void {
    run('ip', ['netns', 'exec', ns, ...args]);
  }

  #addNs(name: string): string {
    const ns = this.ns(name);
    this.#ip('netns', 'add', ns);
    this.namespaces.push(ns);
    this.#ip('-n', ns, 'link', 'set', 'lo', 'up');
    return ns;
  }

  /** A veth pair `a` (in `nsA`, address `ipA`) ↔ `b` (in `nsB`, address `ipB`), both up. */
  #link(nsA: string, a: string, ipA: string, nsB: string, b: string, ipB: string): void {
    this.#ip('link', 'add', a, 'netns', nsA, 'type', 'veth', 'peer', 'name', b, 'netns', nsB);
    this.#ip('-n', nsA, 'addr', 'add', ipA, 'dev', a);
    this.#ip('-n', nsB, 'addr', 'add', ipB, 'dev', b);
    this.#ip('-n', nsA, 'link', 'set', a, 'up');
    this.#ip('-n', nsB, 'link', 'set', b, 'up');
  }

  /**
   * Build the topology with `sites` NATed hosts. Returns the namespace of each host and the public
   * address of the rendezvous side. `dropInput` (default true) adds the routers' INPUT drop rule;
   * `symmetric` makes MASQUERADE pick a random source port for every new flow (`--random-fully`), so
   * no two destinations see the same mapping and hole punching cannot work.
   */
  build(
    sites: number,
    { dropInput = true, symmetric = false }: { dropInput?: boolean; symmetric?: boolean } = {},
  ): { inet: string; hosts: string[]; publicIp: string } {
    const inet = this.#addNs('inet');
    this.#exec(inet, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
    const hosts: string[] = [];
    for (let i = 1; i <= sites; i++) {
      const nat = this.#addNs(`nat${i}`);
      const host = this.#addNs(`host${i}`);
      const dev = (k: number): string => `pi${this.id}${i}${k}`;
      this.#link(inet, dev(0), `10.201.${i}.1/24`, nat, dev(1), `10.201.${i}.2/24`);
      this.#link(nat, dev(2), `192.168.${i}.1/24`, host, dev(3), `192.168.${i}.2/24`);
      this.#ip('-n', nat, 'route', 'add', 'default', 'via', `10.201.${i}.1`);
      this.#ip('-n', host, 'route', 'add', 'default', 'via', `192.168.${i}.1`);
      this.#exec(nat, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
      const masq = ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-o', dev(1), '-j', 'MASQUERADE'];
      this.#exec(nat, ...masq, ...(symmetric ? ['--random-fully'] : []));
      if (dropInput) this.#exec(nat, 'iptables', '-A', 'INPUT', '-i', dev(1), '-j', 'DROP');
      hosts.push(host);
    }
    return { inet, hosts, publicIp: '10.201.1.1' };
  }

  /** Start `node --import tsx <script> ...args` inside namespace `ns`. */
  spawn(ns: string, script: string, args: string[]): LineChild {
    const child = spawn(
      'ip',
      ['netns', 'exec', ns, process.execPath, '--import', 'tsx', join(REPO, script), ...args],
      { cwd: REPO, stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const lc = new LineChild(child);
    this.#children.push(lc);
    return lc;
  }

  #deleteNamespaces(): void {
    for (const ns of this.namespaces.splice(0).reverse()) {
      try {
        run('ip', ['netns', 'del', ns]);
      } catch {
        // already gone
      }
    }
  }

  async destroy(): Promise<void> {
    if (this.#destroyed) return;
    this.#destroyed = true;
    await Promise.all(this.#children.map((c) => c.stop()));
    this.#deleteNamespaces();
    process.off('exit', this.#onExit);
  }
}
