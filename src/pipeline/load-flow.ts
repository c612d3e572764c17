/** Loads a flow config from a local JSON file (offline) or through the API. */
import { readFile } from 'node:fs/promises';
import { AtomicBulkError } from '../model/errors.js';
import { parseFlowConfig } from '../model/flow.js';
import type { AtomicApi } from '../api/client.js';
import type { LoadedFlow } from './flow-source.js';

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
  const fetched = await api.getFlowConfig(flowConfigId, text);
  return { config: fetched.config, flowConfigId, version: fetched.version ?? text, source: 'api' };
}
