/**
 * The registry's TLS certificate: a self-signed ECDSA P-256 certificate (1 year, SAN localhost / 127.0.0.1 / ::1,
 * as the reference generates) built with node:crypto and a minimal DER encoder, persisted on first start so its
 * fingerprint stays stable, and the fingerprint clients pin: hex SHA-256 of the DER certificate.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, X509Certificate } from 'node:crypto';
import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { RegistryError } from './errors.js';

export interface TlsMaterial {
  /** PEM certificate. */
  readonly cert: string;
  /** PEM PKCS#8 private key. */
  readonly key: string;
  /** Lowercase hex SHA-256 of the DER certificate. */
  readonly fingerprint: string;
}

// ---- minimal DER -----------------------------------------------------------------------------------------------

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
}

const seq = (...c: Buffer[]): Buffer => tlv(0x30, ...c);
const set = (...c: Buffer[]): Buffer => tlv(0x31, ...c);

function oid(text: string): Buffer {
  const parts = text.split('.').map(Number);
  const out = [parts[0] * 40 + parts[1]];
  for (const p of parts.slice(2)) {
    const stack = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) stack.unshift(0x80 | (v & 0x7f));
    out.push(...stack);
  }
  return tlv(0x06, Buffer.from(out));
}

function positiveInteger(bytes: Buffer): Buffer {
  let b = bytes;
  while (b.length > 1 && b[0] === 0 && (b[1] & 0x80) === 0) b = b.subarray(1);
  if (b[0] & 0x80) b = Buffer.concat([Buffer.from([0]), b]);
  return tlv(0x02, b);
}

function utcTime(d: Date): Buffer {
  const p = (n: number): string => String(n).padStart(2, '0');
  const s =
    p(d.getUTCFullYear() % 100) +
    p(d.getUTCMonth() + 1) +
    p(d.getUTCDate()) +
    p(d.getUTCHours()) +
    p(d.getUTCMinutes()) +
    p(d.getUTCSeconds()) +
    'Z';
  return tlv(0x17, Buffer.from(s, 'ascii'));
}

const OID_ECDSA_SHA256 = '1.2.840.10045.4.3.2';
const OID_CN = '2.5.4.3';
const OID_SAN = '2.5.29.17';

/** Lowercase hex SHA-256 of a DER certificate. */
export function fingerprintOfDer(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/** Normalise a pinned fingerprint: hex with or without colons, any case. */
export function normalizeFingerprint(text: string): string {
  return text.replace(/[:\s]/g, '').toLowerCase();
}

/** A fresh self-signed certificate. */
export function generateSelfSigned(commonName = 'pilot-registry', days = 365): TlsMaterial {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  const name = seq(set(seq(oid(OID_CN), tlv(0x0c, Buffer.from(commonName, 'utf8')))));
  const now = Date.now();
  const notBefore = new Date(now - 60_000);
  const notAfter = new Date(now + days * 86_400_000);
  const sigAlg = seq(oid(OID_ECDSA_SHA256));
  const san = seq(
    tlv(0x82, Buffer.from('localhost', 'ascii')),
    tlv(0x87, Buffer.from([127, 0, 0, 1])),
    tlv(0x87, Buffer.concat([Buffer.alloc(15), Buffer.from([1])])),
  );
  const extensions = tlv(0xa3, seq(seq(oid(OID_SAN), tlv(0x04, san))));
  const tbs = seq(
    tlv(0xa0, tlv(0x02, Buffer.from([2]))),
    positiveInteger(randomBytes(16)),
    sigAlg,
    name,
    seq(utcTime(notBefore), utcTime(notAfter)),
    name,
    spki,
    extensions,
  );
  const signature = sign('sha256', tbs, privateKey);
  const der = seq(tbs, sigAlg, tlv(0x03, Buffer.concat([Buffer.from([0]), signature])));
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n');
  const cert = `-----BEGIN CERTIFICATE-----\n${b64.trimEnd()}\n-----END CERTIFICATE-----\n`;
  const key = privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
  return { cert, key, fingerprint: fingerprintOfDer(der) };
}

/** Material from PEM text (fingerprint computed). */
export function tlsMaterialFromPem(cert: string, key: string): TlsMaterial {
  try {
    const x = new X509Certificate(cert);
    return { cert, key, fingerprint: fingerprintOfDer(x.raw) };
  } catch (err) {
    throw new RegistryError('ERR_REGISTRY_TLS_SETUP', 'cannot parse the TLS certificate', { cause: err });
  }
}

/**
 * Load the certificate and key from `certPath`/`keyPath`; when neither exists, generate a self-signed pair and
 * write it there (key mode 0600) so the fingerprint survives restarts.
 */
export async function loadOrCreateTls(certPath: string, keyPath: string): Promise<TlsMaterial> {
  let cert: string | null = null;
  let key: string | null = null;
  try {
    cert = await readFile(certPath, 'utf8');
    key = await readFile(keyPath, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new RegistryError('ERR_REGISTRY_TLS_SETUP', `cannot read TLS files ${certPath} / ${keyPath}`, {
        cause: err,
      });
    }
  }
  if (cert !== null && key !== null) return tlsMaterialFromPem(cert, key);
  if (cert !== null || key !== null) {
    throw new RegistryError('ERR_REGISTRY_TLS_SETUP', `only one of ${certPath} and ${keyPath} exists`);
  }
  const m = generateSelfSigned();
  // Both files or neither: each is written whole under a temporary name (fsynced) and renamed into place, and
  // a failure takes back what was already placed. A key left alone (the certificate's write failed) made
  // every later start fail with "only one of ... exists".
  const tmpKey = `${keyPath}.tmp-${randomBytes(6).toString('hex')}`;
  const tmpCert = `${certPath}.tmp-${randomBytes(6).toString('hex')}`;
  let placed: string | null = null;
  try {
    await mkdir(dirname(keyPath), { recursive: true });
    await mkdir(dirname(certPath), { recursive: true });
    await writeWhole(tmpKey, m.key, 0o600);
    await writeWhole(tmpCert, m.cert, 0o644);
    await rename(tmpKey, keyPath);
    placed = keyPath;
    await rename(tmpCert, certPath);
  } catch (err) {
    await Promise.all(
      [tmpKey, tmpCert, ...(placed !== null ? [placed] : [])].map((f) => unlink(f).catch(() => {})),
    );
    throw new RegistryError('ERR_REGISTRY_TLS_SETUP', `cannot write TLS files ${certPath} / ${keyPath}`, {
      cause: err,
    });
  }
  return m;
}

/** Write `data` to a new file `path` with `mode` and fsync it. */
async function writeWhole(path: string, data: string, mode: number): Promise<void> {
  const fh = await open(path, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode);
    await fh.sync();
  } finally {
    await fh.close();
  }
}
