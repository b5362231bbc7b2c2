/** Structured logs with pino: JSON lines, or pretty text for people. */
import { pino } from 'pino';
import pretty from 'pino-pretty';
import type { Logger } from '../coreapi/logger.js';
import type { LogFormat, LogLevel } from './config.js';

export function createLogger(
  level: LogLevel,
  format: LogFormat,
  destination: NodeJS.WritableStream = process.stderr,
): Logger {
  if (format === 'json') return pino({ level }, destination as never) as unknown as Logger;
  const stream = pretty({
    destination: destination as never,
    colorize: (destination as { isTTY?: boolean }).isTTY === true,
    sync: true,
    translateTime: 'SYS:HH:MM:ss.l',
    ignore: 'pid,hostname',
  });
  return pino({ level }, stream) as unknown as Logger;
}
