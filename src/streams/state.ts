/** Connection states with the reference's names (its string forms are part of `pilot connections`). */
export enum ConnState {
  CLOSED = 'CLOSED',
  LISTEN = 'LISTEN',
  SYN_SENT = 'SYN_SENT',
  SYN_RECV = 'SYN_RECV',
  ESTABLISHED = 'ESTABLISHED',
  FIN_WAIT = 'FIN_WAIT',
  CLOSE_WAIT = 'CLOSE_WAIT',
  TIME_WAIT = 'TIME_WAIT',
}

/** Numeric values as the reference numbers them. */
export const CONN_STATE_NUMBER: Record<ConnState, number> = {
  [ConnState.CLOSED]: 0,
  [ConnState.LISTEN]: 1,
  [ConnState.SYN_SENT]: 2,
  [ConnState.SYN_RECV]: 3,
  [ConnState.ESTABLISHED]: 4,
  [ConnState.FIN_WAIT]: 5,
  [ConnState.CLOSE_WAIT]: 6,
  [ConnState.TIME_WAIT]: 7,
};
