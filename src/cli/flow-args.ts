/** Resolves the flow selection flags (--flow / --flow-version / --flow-config). */
import { AtomicBulkError } from '../model/errors.js';
import type { AtomicApi } from '../api/client.js';
import type { LoadedFlow } from '../pipeline/flow-source.js';
import { loadFlowFile, loadFlowFromApi } from '../pipeline/load-flow.js';
import { stringArg, type Args } from './options.js';

/** True when the flow comes from the API rather than a local file; checks one was named. */
export function flowFromApi(args: Args): boolean {
  if (stringArg(args, 'flow-config') === undefined && stringArg(args, 'flow') === undefined) {
    throw new AtomicBulkError(
      'USAGE',
      'Say which flow to use: --flow <flowConfigId> (from the API) or --flow-config <file.json>.',
    );
  }
  return stringArg(args, 'flow-config') === undefined;
}

/** Loads the flow named by the flags: a local file, or through `api`. */
export async function loadFlow(args: Args, api: AtomicApi | null): Promise<LoadedFlow> {
  const file = stringArg(args, 'flow-config');
  const id = stringArg(args, 'flow');
  if (file !== undefined) {
    const loaded = await loadFlowFile(file);
    return id !== undefined ? { ...loaded, flowConfigId: id } : loaded;
  }
  if (id === undefined) {
    throw new AtomicBulkError(
      'USAGE',
      'Say which flow to use: --flow <flowConfigId> (from the API) or --flow-config <file.json>.',
    );
  }
  if (api === null)
    throw new AtomicBulkError('USAGE', 'Reading a flow from the API needs a connection.');
  return loadFlowFromApi(api, id, stringArg(args, 'flow-version') ?? 'latest');
}
