/**
 * A local Sogenactif Office Server (Sips 2.0 Office JSON): sealed, stateful,
 * with a simulated ACS, fault injection and a ledger of what it saw.
 *
 * One call goes: content type (415) → body → faults that stop the call
 * before Sips would process it (90/99, hang, reset, HTTP 5xx) → envelope
 * (03, 34, 30 interfaceVersion, 40) → fields (12, 30) → the function's
 * handler (store, wallets, movements) → sealed answer → faults that hit the
 * answer (bad or missing seal, dropped connection) → simulated latency →
 * the answer. Latency is waited after processing, so a client that times
 * out during it leaves a processed transaction behind, which is the case a
 * payment orchestrator must survive. Waiting uses timers, never the CPU, so
 * thousands of delayed calls can be in flight at once.
 *
 * This module starts and stops the server; the state it shares is built in
 * `simulator-context.ts`, requests are routed in `router.ts`, a Sips call
 * is served in `sips-endpoint.ts` and processed in `sips-call.ts`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { CardTable } from './cards.ts';
import type { SimulatorClock } from './clock.ts';
import type { SimulatorControl } from './control.ts';
import type { FaultRegistry } from './faults.ts';
import type { Ledger } from './ledger.ts';
import type { MerchantRegistry } from './merchants.ts';
import { requestListener } from './router.ts';
import {
  createSimulatorContext,
  type SimulatorContext,
  type SimulatorOptions,
} from './simulator-context.ts';
import type { TransactionStore } from './store.ts';
import type { WalletStore } from './wallets.ts';

export type { SimulatorOptions } from './simulator-context.ts';

export interface RunningSimulator {
  /** Base URL, e.g. `http://127.0.0.1:7070`; Sips paths go under it. */
  readonly url: string;
  readonly port: number;
  close(): Promise<void>;
  readonly ledger: Ledger;
  readonly store: TransactionStore;
  readonly wallets: WalletStore;
  readonly faults: FaultRegistry;
  readonly clock: SimulatorClock;
  readonly control: SimulatorControl;
  readonly merchants: MerchantRegistry;
  readonly cards: CardTable;
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The URL a client uses for a server listening on `host` (a wildcard address means loopback). */
function urlOf(host: string, port: number): string {
  const urlHost = host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host;
  return `http://${urlHost.includes(':') ? `[${urlHost}]` : urlHost}:${port}`;
}

/** Releases delayed answers, then closes the server and every connection (held ones included). */
function closer(ctx: SimulatorContext, server: Server): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= new Promise<void>((resolve) => {
      ctx.delays.releaseAll();
      server.close(() => resolve());
      // Held (hanging) and idle keep-alive sockets would keep close() waiting forever.
      server.closeAllConnections();
    });
    return closing;
  };
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const host = options.host ?? '127.0.0.1';
  const ctx = createSimulatorContext(options);
  const server: Server = createServer(requestListener(ctx));
  // Long-lived keep-alive: a benchmark reuses its connections instead of reopening them.
  server.keepAliveTimeout = 60_000;
  server.headersTimeout = 65_000;

  await listen(server, options.port ?? 0, host);
  const port = (server.address() as AddressInfo).port;
  const url = urlOf(host, port);
  ctx.publicUrl = (ctx.publicUrl || url).replace(/\/+$/, '');
  ctx.logger.info({ url, control: ctx.controlEnabled }, 'simulator listening');

  return {
    url,
    port,
    ledger: ctx.ledger,
    store: ctx.store,
    wallets: ctx.wallets,
    faults: ctx.faults,
    clock: ctx.clock,
    control: ctx.control,
    merchants: ctx.merchants,
    cards: ctx.cards,
    close: closer(ctx, server),
  };
}
