/**
 * Header analysis: turns the header record and the flow config into a plan that says,
 * for every column, what it is and which rule its cells follow, plus the header-level
 * issues of SPEC 2.1–2.3. The row checker then works from the plan alone.
 */
import { isCheckable, type FlowConfig } from '../model/flow.js';
import { issue, type Issue } from '../model/issue.js';
import { describeCodePoint, findInvisible, lookAlikeKey } from './header-text.js';
import { Suggester, SuggestionBudget, type Suggestion } from '../model/suggest.js';

export const TARGET_PREFIX = 'target.attributes.';
export const VARIABLE_PREFIX = 'payload.variables.';
export const CARD_OPTION_PREFIX = 'payload.cardOptions.';
export const METADATA_PREFIX = 'payload.metadata.';
export const NOTIFICATION_PREFIX = 'payload.notificationDetail.';
export const INVOCATION_ID_COLUMN = 'flowInvocationId';
export const RECOMMENDED_TARGET = `${TARGET_PREFIX}atomic___id`;
/** Columns rejected.csv adds; accepted at the end of a header, never sent. */
export const ANNOTATION_COLUMNS = ['_line', '_errors'] as const;

export const CARD_OPTIONS = [
  'priority',
  'expires',
  'expiresInterval',
  'embargo',
  'targetStreamIds',
  'targetPlatforms',
] as const;
export type CardOption = (typeof CARD_OPTIONS)[number];

/** How a column's cells are checked. */
export type CellRule =
  | 'text'
  | 'number'
  | 'date'
  | 'boolean'
  | 'priority'
  | 'timestamp'
  | 'duration'
  | 'stream-ids'
  | 'platforms'
  | 'enum'
  | 'invocation-id';

export type ColumnKind =
  | 'target'
  | 'variable'
  | 'card-option'
  | 'metadata'
  | 'notification'
  | 'invocation-id'
  /** `_line` / `_errors` at the end of the header, from a rejected.csv: ignored, not sent. */
  | 'annotation'
  /** Unknown, duplicate or blank: not checked, and the header error blocks sending. */
  | 'unusable';

export interface ColumnSpec {
  /** 0-based position. */
  index: number;
  /** The header as written. */
  name: string;
  kind: ColumnKind;
  rule: CellRule;
  /** A non-empty cell is required in every row. */
  required: boolean;
  /** For the enum rule: the values the flow allows. */
  allowed?: readonly string[];
}

export interface ColumnPlan {
  header: string[];
  columns: ColumnSpec[];
  /** Positions of target.attributes.* columns. */
  targets: number[];
  /** Positions of the --campaign-key columns (empty without --campaign). */
  campaignKeys: number[];
  /** Position of flowInvocationId, or -1. */
  invocationId: number;
  /** Positions of the expires and embargo card options, or -1. */
  expires: number;
  embargo: number;
  /** Position of the first trailing annotation column; the header length when none. */
  annotationStart: number;
  issues: Issue[];
}

/** Where the trailing `_line` / `_errors` columns of a re-sent rejected.csv begin. */
export function annotationStart(header: string[]): number {
  let k = header.length;
  while (k > 0 && (ANNOTATION_COLUMNS as readonly string[]).includes(header[k - 1] as string)) k--;
  return k;
}

export interface ColumnPlanOptions {
  /** Report undefined payload.variables.* columns as warnings instead of errors. */
  allowUnknownVariables: boolean;
  /** Physical line of the header (1 unless blank lines precede it). */
  headerLine: number;
  /** The separator an Excel `sep=X` line before the header named, if there was one. */
  separatorLine?: string | null;
  /** send --campaign: the columns that name a row within the campaign (SPEC 8). */
  campaignKeys?: readonly string[];
}

const RULE_BY_TYPE: Record<string, CellRule> = {
  string: 'text',
  number: 'number',
  date: 'date',
  boolean: 'boolean',
  enum: 'enum',
};

const RULE_BY_CARD_OPTION: Record<CardOption, CellRule> = {
  priority: 'priority',
  expires: 'timestamp',
  embargo: 'timestamp',
  expiresInterval: 'duration',
  targetStreamIds: 'stream-ids',
  targetPlatforms: 'platforms',
};

const FREE_TEXT_PREFIXES = [TARGET_PREFIX, METADATA_PREFIX, NOTIFICATION_PREFIX] as const;

export function planColumns(
  header: string[],
  flow: FlowConfig,
  options: ColumnPlanOptions,
): ColumnPlan {
  const issues: Issue[] = [];
  const at = (index: number, name: string) => ({
    line: options.headerLine,
    record: 0,
    column: name,
    columnIndex: index + 1,
  });
  const plan: ColumnPlan = {
    header,
    columns: [],
    targets: [],
    campaignKeys: [],
    invocationId: -1,
    expires: -1,
    embargo: -1,
    annotationStart: annotationStart(header),
    issues,
  };
  const firstIndex = new Map<string, number>();
  const variableColumns = new Set<string>();
  const suggest = new HeaderSuggestions(flow);
  const separator = wrongSeparator(header);
  if (separator !== null) {
    issues.push(
      issue(
        'malformed-csv',
        { line: options.headerLine, record: 0 },
        `The header is one column holding ${separator.name}: the file looks ${separator.name.replace(/s$/, '')}-separated, not comma-separated.`,
        `${
          options.separatorLine !== undefined && options.separatorLine !== null
            ? `Its first line, sep=${options.separatorLine}, is the separator line Excel writes for a ${separator.name.replace(/s$/, '')}-separated export. `
            : ''
        }Export it again as CSV with commas as separators (in Excel: "CSV UTF-8 (Comma delimited)").`,
      ),
    );
    plan.columns = header.map((name, index) => ({
      index,
      name,
      kind: 'unusable',
      rule: 'text',
      required: false,
    }));
    return plan;
  }

  /** First column of each look-alike key (NFC, lower case), for ambiguous-header. */
  const lookAlikes = new Map<string, number>();
  header.forEach((raw, index) => {
    const spec: ColumnSpec = { index, name: raw, kind: 'unusable', rule: 'text', required: false };
    plan.columns.push(spec);
    if (index >= plan.annotationStart && firstIndex.get(raw) === undefined) {
      spec.kind = 'annotation';
      firstIndex.set(raw, index);
      return;
    }
    const invisible = findInvisible(raw);
    if (invisible !== null) {
      const more = invisible.count - 1;
      issues.push(
        issue(
          'invisible-character',
          at(index, raw),
          `Header of column ${index + 1} contains ${describeCodePoint(invisible.codePoint)} at character ${invisible.position}${more > 0 ? ` (and ${more} more invisible character${more === 1 ? '' : 's'})` : ''}: it cannot be seen, but the name is not the one it looks like.`,
          'Retype the header name, or delete the character with an editor that shows invisible characters; it usually comes from copying a name out of a web page or a document.',
        ),
      );
      return;
    }
    const name = raw.trim();
    if (name === '') {
      issues.push(
        issue(
          'blank-header',
          at(index, raw),
          `Column ${index + 1} has no name.`,
          'Name the column, or delete it if it holds nothing.',
        ),
      );
      return;
    }
    if (name !== raw) {
      issues.push(
        issue(
          'header-whitespace',
          at(index, raw),
          `Header of column ${index + 1} has spaces before or after the name.`,
          `Rename it to "${name}".`,
        ),
      );
    }
    if (name !== name.normalize('NFC')) {
      issues.push(
        issue(
          'unnormalized-header',
          at(index, raw),
          `Header of column ${index + 1} is written with decomposed accents (Unicode NFD): it looks like "${name.normalize('NFC')}" but is a different name to Atomic and to the flow.`,
          'Retype the name, or save the file from an editor that writes composed characters (NFC).',
        ),
      );
      return;
    }
    const earlier = firstIndex.get(name);
    if (earlier !== undefined) {
      issues.push(
        issue(
          'duplicate-header',
          at(index, raw),
          `Column "${name}" appears twice (columns ${earlier + 1} and ${index + 1}).`,
          'Delete one of the two columns, or rename it.',
        ),
      );
      return;
    }
    const key = lookAlikeKey(name);
    const twin = lookAlikes.get(key);
    if (twin !== undefined) {
      issues.push(
        issue(
          'ambiguous-header',
          at(index, raw),
          `Columns ${twin + 1} (${header[twin] as string}) and ${index + 1} (${name}) differ only by letter case: Atomic treats them as two different fields.`,
          'Keep one spelling: merge the two columns into one, or delete the one you did not mean.',
        ),
      );
      return;
    }
    lookAlikes.set(key, index);
    firstIndex.set(name, index);
    classify(spec, name, flow, options, issues, at(index, raw), plan, variableColumns, suggest);
  });

  for (const variable of flow.variables.values()) {
    if (variable.required && !variableColumns.has(variable.name)) {
      issues.push(
        issue(
          'missing-required-variable',
          { line: options.headerLine, record: 0, column: `${VARIABLE_PREFIX}${variable.name}` },
          `The flow requires variable "${variable.name}" but the file has no ${VARIABLE_PREFIX}${variable.name} column.`,
          `Add a ${VARIABLE_PREFIX}${variable.name} column with a value in every row.`,
        ),
      );
    }
  }
  planCampaignKeys(plan, options, issues);
  if (plan.targets.length === 0) {
    issues.push(
      issue(
        'missing-target-column',
        { line: options.headerLine, record: 0 },
        `The file has no ${TARGET_PREFIX}<field> column, so no row says which user to send to.`,
        `Add a ${RECOMMENDED_TARGET} column with one user id per row.`,
      ),
    );
  }
  return plan;
}

/** Finds the --campaign-key columns; a missing one is a header error (nothing is sent). */
function planCampaignKeys(plan: ColumnPlan, options: ColumnPlanOptions, issues: Issue[]): void {
  for (const name of options.campaignKeys ?? []) {
    const index = plan.header.indexOf(name);
    if (index >= 0) {
      plan.campaignKeys.push(index);
      continue;
    }
    issues.push(
      issue(
        'missing-campaign-key',
        { line: options.headerLine, record: 0, column: name },
        `The campaign's key column "${name}" is not in the file, so the campaign cannot tell who was sent to already.`,
        'Add the column, or name the right one with --campaign-key (the campaign keeps the key columns it was started with).',
      ),
    );
  }
}

function classify(
  spec: ColumnSpec,
  name: string,
  flow: FlowConfig,
  options: ColumnPlanOptions,
  issues: Issue[],
  at: { line: number; record: number; column: string; columnIndex: number },
  plan: ColumnPlan,
  variableColumns: Set<string>,
  suggest: HeaderSuggestions,
): void {
  if (name === INVOCATION_ID_COLUMN) {
    spec.kind = 'invocation-id';
    spec.rule = 'invocation-id';
    plan.invocationId = spec.index;
    return;
  }
  for (const prefix of FREE_TEXT_PREFIXES) {
    if (name.startsWith(prefix) && name.length > prefix.length) {
      spec.kind =
        prefix === TARGET_PREFIX
          ? 'target'
          : prefix === METADATA_PREFIX
            ? 'metadata'
            : 'notification';
      if (spec.kind === 'target') plan.targets.push(spec.index);
      return;
    }
  }
  if (name.startsWith(VARIABLE_PREFIX) && name.length > VARIABLE_PREFIX.length) {
    const variableName = name.slice(VARIABLE_PREFIX.length);
    const variable = flow.variables.get(variableName);
    variableColumns.add(variableName);
    if (variable === undefined) {
      const guess = suggest.variable(variableName);
      issues.push(
        issue(
          'unknown-variable',
          at,
          `The flow has no variable "${variableName}".`,
          guess !== undefined
            ? `Did you mean ${VARIABLE_PREFIX}${guess}?`
            : flow.variables.size > 0
              ? `The flow's variables are: ${suggest.variableList()}.`
              : 'The flow defines no variables; remove the column.',
          options.allowUnknownVariables ? 'warning' : 'error',
        ),
      );
      if (options.allowUnknownVariables) spec.kind = 'variable';
      return;
    }
    spec.kind = 'variable';
    spec.required = variable.required;
    if (isCheckable(variable)) {
      spec.rule = RULE_BY_TYPE[variable.type] as CellRule;
      if (variable.values !== null) spec.allowed = variable.values;
    } else {
      issues.push(
        issue(
          'unknown-variable-type',
          at,
          variable.type === 'enum'
            ? `Variable "${variableName}" is an enum whose config lists no values, so its cells are accepted as text.`
            : `Variable "${variableName}" has type "${variable.type}", which this tool does not check; its cells are accepted as text.`,
          'Check these values by hand, or update atomic-bulk.',
        ),
      );
    }
    return;
  }
  if (name.startsWith(CARD_OPTION_PREFIX)) {
    const option = name.slice(CARD_OPTION_PREFIX.length);
    if ((CARD_OPTIONS as readonly string[]).includes(option)) {
      spec.kind = 'card-option';
      spec.rule = RULE_BY_CARD_OPTION[option as CardOption];
      if (option === 'expires') plan.expires = spec.index;
      if (option === 'embargo') plan.embargo = spec.index;
      return;
    }
    const guess = suggest.cardOption(option);
    issues.push(
      issue(
        'unknown-card-option',
        at,
        `"${option}" is not a card option.`,
        guess !== undefined
          ? `Did you mean ${CARD_OPTION_PREFIX}${guess}?`
          : `Card options are: ${CARD_OPTIONS.join(', ')}.`,
      ),
    );
    return;
  }
  const guess = suggest.column(name);
  issues.push(
    issue(
      'unknown-column',
      at,
      `"${name}" is not a column atomic-bulk can send.`,
      guess !== undefined
        ? `Did you mean ${guess}?`
        : `Columns must be ${TARGET_PREFIX}<field>, ${VARIABLE_PREFIX}<name>, ${CARD_OPTION_PREFIX}<option>, ${METADATA_PREFIX}<name>, ${NOTIFICATION_PREFIX}<name> or ${INVOCATION_ID_COLUMN}.`,
    ),
  );
}

/** A one-column header that splits into known-looking names on another separator. */
function wrongSeparator(header: string[]): { name: string } | null {
  if (header.length !== 1) return null;
  const only = header[0] ?? '';
  for (const [char, name] of [
    ['\t', 'tabs'],
    [';', 'semicolons'],
    ['|', 'pipes'],
  ] as const) {
    const parts = only.split(char);
    if (
      parts.length > 1 &&
      parts.some((p) => /^(target\.attributes\.|payload\.|flowInvocationId$)/.test(p.trim()))
    )
      return { name };
  }
  return null;
}

/** Names listed in a hint: the first few, then how many more. */
const LISTED_NAMES = 10;

function listSome(names: string[]): string {
  if (names.length <= LISTED_NAMES) return names.join(', ');
  return `${names.slice(0, LISTED_NAMES).join(', ')} and ${names.length - LISTED_NAMES} more (atomic-bulk template lists them all)`;
}

/**
 * "Did you mean" for one header, indexed once and bounded by one budget, so thousands of
 * unknown columns against a flow of thousands of variables cost a fraction of a second.
 */
class HeaderSuggestions {
  private readonly budget = new SuggestionBudget();
  private variables: Suggester | null = null;
  private options: Suggester | null = null;
  private columns: Suggester | null = null;
  private listed: string | null = null;

  constructor(private readonly flow: FlowConfig) {}

  /** The first few variable names, for hints; made once per header. */
  variableList(): string {
    this.listed ??= listSome([...this.flow.variables.keys()]);
    return this.listed;
  }

  variable(name: string): string | undefined {
    this.variables ??= new Suggester(this.flow.variables.keys(), this.budget);
    return this.variables.closest(name)?.name;
  }

  cardOption(name: string): string | undefined {
    this.options ??= new Suggester(CARD_OPTIONS, this.budget);
    return this.options.closest(name)?.name;
  }

  /** An unknown header: a fixed name, a flow variable's column, or a mistyped prefix. */
  column(name: string): string | undefined {
    this.columns ??= new Suggester(
      [
        INVOCATION_ID_COLUMN,
        RECOMMENDED_TARGET,
        ...CARD_OPTIONS.map((o) => `${CARD_OPTION_PREFIX}${o}`),
        ...[...this.flow.variables.keys()].map((v) => `${VARIABLE_PREFIX}${v}`),
      ],
      this.budget,
    );
    const candidates: (Suggestion | undefined)[] = [
      this.columns.closest(name),
      new Suggester(prefixCorrections(name, this.flow), this.budget).closest(name),
    ];
    let best: Suggestion | undefined;
    for (const c of candidates)
      if (c !== undefined && (best === undefined || c.distance < best.distance)) best = c;
    return best?.name;
  }
}

/** A mistyped prefix: keep what follows the first one or two dots and try each prefix. */
function prefixCorrections(name: string, flow: FlowConfig): string[] {
  const out: string[] = [];
  const parts = name.split('.');
  const suffixes = new Set([parts.slice(1).join('.'), parts.slice(2).join('.'), name]);
  for (const suffix of suffixes) {
    if (suffix === '') continue;
    for (const prefix of [TARGET_PREFIX, VARIABLE_PREFIX, METADATA_PREFIX, NOTIFICATION_PREFIX]) {
      if (prefix === VARIABLE_PREFIX && !flow.variables.has(suffix)) continue;
      out.push(`${prefix}${suffix}`);
    }
  }
  return out;
}
