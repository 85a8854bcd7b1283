/**
 * pino with card data, secrets and credentials redacted wherever they appear
 * in a logged object, each line with the ids of the request, merchant,
 * payment and job it is about (log-context.ts). Modules receive a Logger;
 * only composition roots make one.
 */
import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino';
import { currentLogContext } from './log-context.ts';

export type { Logger };

/** Field names that never reach a log line in clear. */
export const REDACTED_FIELDS = [
  'cardNumber',
  'cardCSCValue',
  'cardExpiryDate',
  'pan',
  'csc',
  'cvv',
  'secretKey',
  'password',
  'authorization',
  'Authorization',
  'x-api-key',
  'paReqMessage',
  'paResMessage',
  'PaRes',
  'PaReq',
] as const;

function redactPaths(): string[] {
  const paths: string[] = [];
  for (const field of REDACTED_FIELDS) {
    paths.push(
      field,
      `*.${field}`,
      `*.*.${field}`,
      `*.*.*.${field}`,
      `req.headers["${field.toLowerCase()}"]`,
    );
  }
  return paths;
}

export interface LoggerConfig {
  level?: string;
  name?: string;
}

export function createLogger(config: LoggerConfig = {}, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level: config.level ?? 'info',
    redact: { paths: redactPaths(), censor: '[redacted]' },
    // The request, merchant, payment and job the line is about (log-context.ts);
    // the fields a line names itself win.
    mixin: () => ({ ...currentLogContext() }),
    ...(config.name ? { name: config.name } : {}),
  };
  return destination ? pino(options, destination) : pino(options);
}

/** A logger that writes nothing, for tests and library use without logging. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
