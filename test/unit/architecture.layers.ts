/**
 * The layers of architecture §3, lowest first. A file imports its own layer
 * or lower ranks; entry points compose everything and nothing imports them.
 */
import type { Layer } from '../support/import-graph.ts';

export const LAYERS: readonly Layer[] = [
  { name: 'platform', paths: ['src/platform/'], rank: 0 },
  // Pure: they import nothing of ours; the Sips translation speaks their contract.
  { name: 'machines', paths: ['machines/'], rank: 1 },
  { name: 'sips', paths: ['src/sips/'], rank: 2 },
  { name: 'simulator', paths: ['src/simulator/'], rank: 3 },
  { name: 'config', paths: ['src/config/'], rank: 3 },
  { name: 'payments', paths: ['src/payments/'], rank: 4 },
  { name: 'engine', paths: ['src/engine/'], rank: 5 },
  // Above the engine: endpoints and messages use its errors and merchant ids.
  { name: 'webhooks', paths: ['src/webhooks/'], rank: 5.5 },
  { name: 'queues', paths: ['src/queues/'], rank: 6 },
  { name: 'schedules', paths: ['src/schedules/'], rank: 7 },
  { name: 'service', paths: ['src/service/'], rank: 8 },
  {
    name: 'composition',
    paths: [
      'src/orchestrator.ts',
      'src/orchestrator-parts.ts',
      'src/orchestrator-webhooks.ts',
      'src/compose.ts',
    ],
    rank: 9,
  },
  { name: 'api', paths: ['src/api/'], rank: 10 },
  { name: 'cli', paths: ['src/cli/'], rank: 10 },
  {
    name: 'entry points',
    paths: ['workers/', 'src/main.ts', 'src/demo.ts', 'src/simulator/main.ts', 'src/cli/main.ts'],
    rank: 11,
    entry: true,
  },
];
