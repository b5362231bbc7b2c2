/**
 * Node's timers: the longest delay `setTimeout` honours, 2^31-1 ms (about 24.8 days). A longer one fires after
 * 1 ms (with a warning), so time limits are capped to it or refused above it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;
