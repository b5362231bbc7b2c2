/** Well-known port constants and port ranges (reference §2, conformance §A1). */
import { describe, expect, it } from 'vitest';
import {
  EPHEMERAL_PORT_MAX,
  EPHEMERAL_PORT_MIN,
  PORT_CONTROL,
  PORT_DATA_EXCHANGE,
  PORT_ECHO,
  PORT_EVENT_STREAM,
  PORT_HANDSHAKE,
  PORT_HTTP,
  PORT_NAMESERVER,
  PORT_PING,
  PORT_SECURE,
  PORT_STDIO,
  PORT_TASK_SUBMIT,
  REGISTERED_PORT_MAX,
  REGISTERED_PORT_MIN,
  WELL_KNOWN_PORT_MAX,
  isEphemeralPort,
  isValidPort,
} from '../../../src/coreapi/ports.js';

describe('ports', () => {
  it('well-known port numbers match the reference', () => {
    expect({
      PORT_PING,
      PORT_CONTROL,
      PORT_ECHO,
      PORT_NAMESERVER,
      PORT_HTTP,
      PORT_SECURE,
      PORT_HANDSHAKE,
      PORT_STDIO,
      PORT_DATA_EXCHANGE,
      PORT_EVENT_STREAM,
      PORT_TASK_SUBMIT,
    }).toEqual({
      PORT_PING: 0,
      PORT_CONTROL: 1,
      PORT_ECHO: 7,
      PORT_NAMESERVER: 53,
      PORT_HTTP: 80,
      PORT_SECURE: 443,
      PORT_HANDSHAKE: 444,
      PORT_STDIO: 1000,
      PORT_DATA_EXCHANGE: 1001,
      PORT_EVENT_STREAM: 1002,
      PORT_TASK_SUBMIT: 1003,
    });
  });

  it('ranges: 0-1023 reserved, 1024-49151 registered, 49152-65535 ephemeral (16384 ports)', () => {
    expect(WELL_KNOWN_PORT_MAX).toBe(1023);
    expect(REGISTERED_PORT_MIN).toBe(1024);
    expect(REGISTERED_PORT_MAX).toBe(49151);
    expect(EPHEMERAL_PORT_MIN).toBe(49152);
    expect(EPHEMERAL_PORT_MAX).toBe(65535);
    expect(EPHEMERAL_PORT_MAX - EPHEMERAL_PORT_MIN + 1).toBe(16384);
  });

  it('isEphemeralPort follows the range', () => {
    expect(isEphemeralPort(49151)).toBe(false);
    expect(isEphemeralPort(49152)).toBe(true);
    expect(isEphemeralPort(65535)).toBe(true);
    expect(isEphemeralPort(65536)).toBe(false);
    expect(isEphemeralPort(1001)).toBe(false);
  });

  it('isValidPort accepts integers 0..65535 only', () => {
    for (const p of [0, 1, 1023, 65535]) expect(isValidPort(p)).toBe(true);
    for (const p of [-1, 65536, 1.5, Number.NaN, Infinity]) expect(isValidPort(p)).toBe(false);
  });
});
