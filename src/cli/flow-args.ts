/** Resolves the flow selection flags (--flow / --flow-version / --flow-config). */
import { AtomicBulkError } from '../model/errors.js';
import type { LoadedFlow } from '../pipeline/flow-source.js';
import { loadFlowFile } from '../pipeline/load-flow.js';
import { stringArg, type Args } from './options.js';

export interface FlowHandle {
  /** Runs `fn` with the loaded flow, keeping any connection it needs open meanwhile. */
  use<T>(fn: (flow: LoadedFlow) => Promise<T>): Promise<T>;
}

export async function resolveFlow(args: Args): Promise<FlowHandle> {
  const file = stringArg(args, 'flow-config');
  const id = stringArg(args, 'flow');
  if (file !== undefined) {
    const loaded = await loadFlowFile(file);
    return { use: (fn) => fn(id !== undefined ? { ...loaded, flowConfigId: id } : loaded) };
  }
  if (id !== undefined) {
    throw new AtomicBulkError('USAGE', 'Fetching the flow config from the API is not available yet; use --flow-config.');
  }
  throw new AtomicBulkError('USAGE', 'Say which flow to check against: --flow <flowConfigId> or --flow-config <file.json>.');
}
