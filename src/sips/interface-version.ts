/**
 * What an interfaceVersion looks like: the service's prefix (`IR_WS_`,
 * `CR_WS_`, `DR_WS_`, `WR_WS_`, services.ts) followed by a major and a minor
 * number, e.g. `IR_WS_2.55`, `DR_WS_2.58`, `IR_WS_2.3` (reference §2: every
 * documented value and every value seen in client code has exactly one dot).
 *
 * The one definition for the client's request schema and the simulator's
 * envelope check: a value one accepts and the other refuses (30) would pass
 * our tests and fail in production, or the other way round.
 */
import { interfaceVersionFor, type SipsServiceName } from './services.ts';

/** The version number behind the prefix: digits, one dot, digits. */
export const INTERFACE_VERSION_NUMBER = /^\d+\.\d+$/;

/** The pattern of a full interfaceVersion for `prefix` (letters and underscores only). */
export function interfaceVersionPattern(prefix: string): RegExp {
  return new RegExp(`^${prefix}${INTERFACE_VERSION_NUMBER.source.slice(1)}`);
}

/** Whether `value` is a well-formed interfaceVersion for `service` (its domain's prefix). */
export function isInterfaceVersionOf(service: SipsServiceName, value: string): boolean {
  const prefix = interfaceVersionFor(service, '');
  return value.startsWith(prefix) && INTERFACE_VERSION_NUMBER.test(value.slice(prefix.length));
}
