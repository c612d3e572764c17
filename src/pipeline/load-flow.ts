/** Loads a flow config from a local JSON file (offline) or through the API. */
import { readFile } from 'node:fs/promises';
import { AtomicBulkError } from '../model/errors.js';
import { parseFlowConfig } from '../model/flow.js';
import type { AtomicApi } from '../api/client.js';
import type { LoadedFlow } from './flow-source.js';
import { Suggester } from '../model/suggest.js';

/** Reads `--flow-config FILE`: the API response shape, its data, or its data.config. */
export async function loadFlowFile(path: string): Promise<LoadedFlow> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new AtomicBulkError(
      'FLOW_CONFIG',
      `Cannot read flow config ${path} (${code === 'ENOENT' ? 'no such file' : (code ?? 'error')}).`,
      { hint: 'Check the --flow-config path.' },
      error,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text.replace(/^\uFEFF/, ''));
  } catch (error) {
    throw new AtomicBulkError(
      'FLOW_CONFIG',
      `Flow config ${path} is not valid JSON (${(error as Error).message}).`,
      { hint: 'Save the response of GET /v1/{env}/action-flow/{id}/config/latest as it is.' },
      error,
    );
  }
  const config = parseFlowConfig(raw, path);
  return { config, flowConfigId: config.flowConfigId, version: config.version, source: 'file' };
}

/** Fetches a flow config through the API: `version` is a number or "latest". */
export async function loadFlowFromApi(
  api: AtomicApi,
  flowConfigId: string,
  version: string | number = 'latest',
): Promise<LoadedFlow> {
  const text = String(version);
  if (text !== 'latest' && !/^\d+$/.test(text)) {
    throw new AtomicBulkError('USAGE', 'The flow version must be a version number or "latest".');
  }
  try {
    const fetched = await api.getFlowConfig(flowConfigId, text);
    return {
      config: fetched.config,
      flowConfigId,
      version: fetched.version ?? text,
      source: 'api',
    };
  } catch (error) {
    if (error instanceof AtomicBulkError && error.code === 'NOT_FOUND')
      throw await explainNotFound(api, flowConfigId, error);
    throw error;
  }
}

/**
 * A 404 for a flow can mean a wrong flow id or a wrong environment: the flow list tells
 * which. A missing environment is said so; a missing flow gets a "did you mean" from the
 * environment's own flows.
 */
async function explainNotFound(
  api: AtomicApi,
  flowConfigId: string,
  original: AtomicBulkError,
): Promise<AtomicBulkError> {
  const environment = api.destination.environmentId;
  let flows: { id: string; name: string | null }[];
  try {
    flows = await api.listFlows();
  } catch (error) {
    if (error instanceof AtomicBulkError && error.code === 'NOT_FOUND') {
      return new AtomicBulkError(
        'NOT_FOUND',
        `Environment ${environment} was not found at ${api.destination.apiOrigin} (HTTP 404).`,
        {
          status: 404,
          hint: 'Check --environment (ATOMIC_ENVIRONMENT_ID): copy the environment id from the Workbench.',
        },
        error,
      );
    }
    return original;
  }
  // The flow exists: it is the version that is missing, which the original message says.
  if (flows.some((f) => f.id === flowConfigId)) return original;
  const guess = new Suggester(
    flows.flatMap((f) => [f.id, ...(f.name !== null ? [f.name] : [])]),
  ).closest(flowConfigId);
  const byName = flows.find((f) => f.name === guess?.name);
  const suggestion = byName?.id ?? guess?.name;
  return new AtomicBulkError(
    'NOT_FOUND',
    `Flow ${flowConfigId} was not found in environment ${environment} (HTTP 404).`,
    {
      status: 404,
      hint:
        suggestion !== undefined
          ? `Did you mean --flow ${suggestion}? atomic-bulk flows list shows the environment's flows.`
          : flows.length > 0
            ? 'atomic-bulk flows list shows the flows of this environment.'
            : `Environment ${environment} has no flows; check --environment.`,
    },
    original,
  );
}
