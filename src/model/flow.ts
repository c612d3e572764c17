/**
 * The Action Flow configuration as far as validation needs it. A config enters as
 * `unknown` (an API response or a local JSON file, in any of the shapes of SPEC 2.3) and
 * leaves `parseFlowConfig` fully typed; nothing downstream re-checks it.
 */
import { AtomicBulkError } from './errors.js';

/**
 * Variable types the validator knows; any other type is checked as text, with a warning.
 * `enum` is checked when the config lists its values (`values`, `options` or `enum`).
 */
export const KNOWN_VARIABLE_TYPES = ['string', 'number', 'date', 'boolean', 'enum'] as const;
export type KnownVariableType = (typeof KNOWN_VARIABLE_TYPES)[number];

export interface VariableSpec {
  name: string;
  /** As written in the config; may be a type this tool does not know. */
  type: string;
  required: boolean;
  /** The flow's default, when it has one (informational). */
  defaultValue?: unknown;
  /** For `enum`: the allowed values, as text; null when the config lists none. */
  values: string[] | null;
}

export interface FlowConfig {
  /** Flow config id, when the source says it. */
  flowConfigId: string | null;
  name: string | null;
  /** Config version, when the source says it. */
  version: number | string | null;
  /** `published`, `draft`, … when the source says it. */
  status: string | null;
  variables: Map<string, VariableSpec>;
}

export function isKnownType(type: string): type is KnownVariableType {
  return (KNOWN_VARIABLE_TYPES as readonly string[]).includes(type);
}

/** True when the validator can check the variable's cells (an enum needs its values). */
export function isCheckable(variable: VariableSpec): boolean {
  return isKnownType(variable.type) && (variable.type !== 'enum' || variable.values !== null);
}

/** An enum's allowed values from the first of `values`, `options`, `enum` that is a list. */
function enumValues(spec: Record<string, unknown>): string[] | null {
  for (const key of ['values', 'options', 'enum']) {
    const list = spec[key];
    if (!Array.isArray(list)) continue;
    const values = list.flatMap((v) => {
      if (typeof v === 'string' || typeof v === 'number') return [String(v)];
      if (isObject(v) && (typeof v.value === 'string' || typeof v.value === 'number'))
        return [String(v.value)];
      return [];
    });
    return values.length > 0 ? values : null;
  }
  return null;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function optionalString(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/**
 * Reads a flow config from the full API response (`{data: {config: …}}`), its `data`
 * part, its `data.config` part, or a flow list item (`{id, name, variables}`).
 * `source` names where it came from, for error messages.
 */
export function parseFlowConfig(raw: unknown, source: string): FlowConfig {
  const fail = (what: string): never => {
    throw new AtomicBulkError('FLOW_CONFIG', `Flow config from ${source} ${what}.`, {
      hint: 'Pass the JSON returned by GET /v1/{env}/action-flow/{id}/config/{version}, or its data or data.config part.',
    });
  };
  if (!isObject(raw)) return fail('is not a JSON object');
  let outer: Record<string, unknown> = raw;
  if (isObject(outer.data)) outer = outer.data;
  const config = isObject(outer.config) ? outer.config : outer;
  const variables = config.variables ?? outer.variables;
  if (variables === undefined)
    return fail('has no "variables" (looked in data.config, data and the top level)');
  const pick = (key: string): unknown => config[key] ?? outer[key];
  const version = pick('version');
  return {
    flowConfigId: optionalString(pick('flowConfigId')) ?? optionalString(pick('id')),
    name: optionalString(pick('name')),
    version: typeof version === 'number' || typeof version === 'string' ? version : null,
    status: optionalString(pick('status')),
    variables: parseVariables(variables, fail),
  };
}

function parseVariables(raw: unknown, fail: (what: string) => never): Map<string, VariableSpec> {
  const entries: [string, unknown][] = [];
  if (Array.isArray(raw)) {
    for (const [i, item] of raw.entries()) {
      if (!isObject(item) || typeof item.name !== 'string')
        fail(`has a variable at position ${i} without a "name"`);
      entries.push([(item as { name: string }).name, item]);
    }
  } else if (isObject(raw)) {
    entries.push(...Object.entries(raw));
  } else {
    fail('has "variables" that is neither an object nor a list');
  }
  const out = new Map<string, VariableSpec>();
  for (const [name, spec] of entries) {
    if (name === '' || name.trim() !== name)
      fail(`has a variable with an empty or space-padded name`);
    if (!isObject(spec)) return fail(`has variable "${name}" that is not an object`);
    if (typeof spec.type !== 'string' || spec.type === '')
      fail(`has variable "${name}" without a "type"`);
    if (spec.required !== undefined && typeof spec.required !== 'boolean') {
      fail(`has variable "${name}" whose "required" is not true or false`);
    }
    out.set(name, {
      name,
      type: spec.type,
      required: spec.required === true,
      values: spec.type === 'enum' ? enumValues(spec) : null,
      ...(spec.default !== undefined ? { defaultValue: spec.default } : {}),
    });
  }
  return out;
}
