/**
 * An orchestrator told its API's public URL before the API listens (the
 * 3-D Secure return URL goes to Sips), so the port is chosen first. Another
 * process (a test's Redis, a simulator) may take that port between the probe
 * and the listen: then everything is built again on another port.
 */
import { createServer } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { buildApi } from '../../src/api/app.ts';
import { startOrchestratorHarness, type OrchestratorHarness } from './orchestrator-harness.ts';

type HarnessOptions = NonNullable<Parameters<typeof startOrchestratorHarness>[0]>;

const TRIES = 5;

/** A port free right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (typeof address !== 'object' || !address) throw new Error('no port');
  return address.port;
}

export async function startApiOnPort(
  api: (
    h: OrchestratorHarness,
    base: string,
  ) => Omit<Parameters<typeof buildApi>[0], 'orchestrator'>,
  harness: HarnessOptions = {},
): Promise<{ h: OrchestratorHarness; app: FastifyInstance; base: string }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const h = await startOrchestratorHarness({
      ...harness,
      orchestrator: { ...harness.orchestrator, publicUrl: base },
    });
    const app = buildApi({ orchestrator: h.orchestrator, ...api(h, base) });
    try {
      await app.listen({ port, host: '127.0.0.1' });
      return { h, app, base };
    } catch (error) {
      await app.close();
      await h.close();
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || attempt >= TRIES) throw error;
    }
  }
}
