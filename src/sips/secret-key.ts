/**
 * A merchant secret key. It prints as `[redacted]` everywhere (template
 * strings, JSON, util.inspect, pino), so it cannot leak through a log line;
 * only `reveal()` gives the text, and only the seal code calls it.
 */
import { inspect } from 'node:util';

const REDACTED = '[redacted]';

export class SecretKey {
  readonly #value: string;

  constructor(value: string) {
    if (value.length === 0) throw new Error('a secret key cannot be empty');
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
