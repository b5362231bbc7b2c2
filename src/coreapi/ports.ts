/** Virtual port numbers and ranges (16-bit). */

export const PORT_PING = 0;
export const PORT_CONTROL = 1;
export const PORT_ECHO = 7;
export const PORT_NAMESERVER = 53;
export const PORT_HTTP = 80;
export const PORT_SECURE = 443;
export const PORT_HANDSHAKE = 444;
export const PORT_STDIO = 1000;
export const PORT_DATA_EXCHANGE = 1001;
export const PORT_EVENT_STREAM = 1002;
export const PORT_TASK_SUBMIT = 1003;

export const WELL_KNOWN_PORT_MAX = 1023;
export const REGISTERED_PORT_MIN = 1024;
export const REGISTERED_PORT_MAX = 49151;
export const EPHEMERAL_PORT_MIN = 49152;
export const EPHEMERAL_PORT_MAX = 65535;

/** True for an integer in 0..65535. */
export function isValidPort(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 0xffff;
}

export function isEphemeralPort(port: number): boolean {
  return port >= EPHEMERAL_PORT_MIN && port <= EPHEMERAL_PORT_MAX;
}
