/**
 * Starts one private redis-server for the whole run on a free loopback port
 * (or uses REDIS_URL when it is set) and hands its URL to the tests through
 * vitest's provide/inject. Each test then owns a key namespace inside it.
 */
import type { TestProject } from 'vitest/node';
import { startRedisServer, type RedisServerHandle } from '../../src/platform/redis-server.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

let server: RedisServerHandle | undefined;

export async function setup(project: TestProject): Promise<void> {
  const external = process.env.REDIS_URL;
  if (external) {
    project.provide('redisUrl', external);
    return;
  }
  server = await startRedisServer({ persistence: 'none' });
  project.provide('redisUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
