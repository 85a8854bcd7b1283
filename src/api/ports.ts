/**
 * What the API needs of the orchestrator beyond its commands and views:
 * the orchestrator's `operations` (readiness, queue figures, stuck payments
 * and the queues Bull Board shows).
 */
import type { Orchestrator } from '../orchestrator.ts';
import type { Operations, StepJobState } from '../service/operations.ts';

export type { StepJobState };
export type ApiPorts = Operations;

export function apiPorts(orchestrator: Orchestrator): ApiPorts {
  return orchestrator.operations;
}
