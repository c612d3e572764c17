/** The flows the sandbox serves: JSON files, by default the package's samples/flows. */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseFlowConfig, type FlowConfig } from '../model/flow.js';

export interface SeededFlow {
  id: string;
  name: string;
  description: string | null;
  status: string;
  version: number | string;
  created: string;
  updated: string;
  config: FlowConfig;
  raw: { config: unknown };
  /** The card template the flow's cards are made from. */
  cardTemplate: { id: string; name: string };
}

export function defaultFlowsDir(): string {
  return fileURLToPath(new URL('../../samples/flows/', import.meta.url));
}

export async function loadFlows(dir: string): Promise<Map<string, SeededFlow>> {
  const flows = new Map<string, SeededFlow>();
  for (const file of (await readdir(dir)).filter((f) => f.endsWith('.json')).sort()) {
    const raw = JSON.parse(await readFile(join(dir, file), 'utf8')) as {
      data?: Record<string, unknown>;
    } & Record<string, unknown>;
    const data = raw.data ?? raw;
    const config = parseFlowConfig(raw, join(dir, file));
    const id = typeof data.id === 'string' ? data.id : file.replace(/\.json$/, '');
    const name = typeof data.name === 'string' ? data.name : id;
    flows.set(id, {
      id,
      name,
      description: typeof data.description === 'string' ? data.description : null,
      status: typeof data.status === 'string' ? data.status : 'published',
      version:
        typeof data.version === 'number' || typeof data.version === 'string' ? data.version : 1,
      created: typeof data.created === 'string' ? data.created : new Date(0).toISOString(),
      updated: typeof data.updated === 'string' ? data.updated : new Date(0).toISOString(),
      config,
      raw: { config: data.config ?? { variables: data.variables } },
      cardTemplate: {
        id: typeof data.cardTemplateId === 'string' ? data.cardTemplateId : `${id}-card`,
        name,
      },
    });
  }
  return flows;
}
