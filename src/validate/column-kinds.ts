/**
 * What a header name makes a column: a table keyed by the name's prefix (SPEC 2.1). Each
 * entry sets the column's kind and cell rule, records it in the plan, and reports what
 * is wrong with the name (an unknown variable or card option, with a suggestion). A name
 * no entry claims is an unknown column.
 */
import { isCheckable, type FlowConfig } from '../model/flow.js';
import { issue, type Issue, type IssueLocation } from '../model/issue.js';
import {
  CARD_OPTION_PREFIX,
  CARD_OPTIONS,
  INVOCATION_ID_COLUMN,
  METADATA_PREFIX,
  NOTIFICATION_PREFIX,
  TARGET_PREFIX,
  VARIABLE_PREFIX,
  type CardOption,
  type CellRule,
  type ColumnPlan,
  type ColumnPlanOptions,
  type ColumnSpec,
} from './column-names.js';
import type { HeaderSuggestions } from './header-suggestions.js';

/** What classifying one header needs, shared by its columns. */
export interface HeaderContext {
  flow: FlowConfig;
  options: ColumnPlanOptions;
  plan: ColumnPlan;
  issues: Issue[];
  /** Variables that have a column, for missing-required-variable. */
  variableColumns: Set<string>;
  suggest: HeaderSuggestions;
}

/** One column to classify: its spec (filled in), the name trimmed, and where it is. */
export interface NamedColumn {
  spec: ColumnSpec;
  name: string;
  at: IssueLocation;
}

interface Kind {
  /** The name is this prefix and a non-empty rest; `exact`: the name is the prefix. */
  prefix: string;
  exact?: boolean;
  /** A name that is the prefix alone is still this kind's (reported as unknown). */
  emptyRest?: boolean;
  classify: (column: NamedColumn, rest: string, header: HeaderContext) => void;
}

const KINDS: readonly Kind[] = [
  {
    prefix: INVOCATION_ID_COLUMN,
    exact: true,
    classify: ({ spec }, _rest, { plan }) => {
      Object.assign(spec, { kind: 'invocation-id', rule: 'invocation-id' });
      plan.invocationId = spec.index;
    },
  },
  {
    prefix: TARGET_PREFIX,
    classify: ({ spec }, _rest, { plan }) => {
      spec.kind = 'target';
      plan.targets.push(spec.index);
    },
  },
  {
    prefix: METADATA_PREFIX,
    classify: ({ spec }) => {
      spec.kind = 'metadata';
    },
  },
  {
    prefix: NOTIFICATION_PREFIX,
    classify: ({ spec }) => {
      spec.kind = 'notification';
    },
  },
  { prefix: VARIABLE_PREFIX, classify: classifyVariable },
  { prefix: CARD_OPTION_PREFIX, emptyRest: true, classify: classifyCardOption },
];

export function classify(column: NamedColumn, header: HeaderContext): void {
  const { name } = column;
  for (const kind of KINDS) {
    if (kind.exact === true ? name !== kind.prefix : !name.startsWith(kind.prefix)) continue;
    const rest = name.slice(kind.prefix.length);
    if (kind.exact !== true && rest === '' && kind.emptyRest !== true) continue;
    kind.classify(column, rest, header);
    return;
  }
  const guess = header.suggest.column(name);
  header.issues.push(
    issue(
      'unknown-column',
      column.at,
      `"${name}" is not a column atomic-bulk can send.`,
      guess !== undefined
        ? `Did you mean ${guess}?`
        : `Columns must be ${TARGET_PREFIX}<field>, ${VARIABLE_PREFIX}<name>, ${CARD_OPTION_PREFIX}<option>, ${METADATA_PREFIX}<name>, ${NOTIFICATION_PREFIX}<name> or ${INVOCATION_ID_COLUMN}.`,
    ),
  );
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

function classifyVariable({ spec, at }: NamedColumn, name: string, header: HeaderContext): void {
  const { flow, options, suggest } = header;
  const variable = flow.variables.get(name);
  header.variableColumns.add(name);
  if (variable === undefined) {
    const guess = suggest.variable(name);
    header.issues.push({
      ...issue(
        'unknown-variable',
        at,
        `The flow has no variable "${name}".`,
        guess !== undefined
          ? `Did you mean ${VARIABLE_PREFIX}${guess}?`
          : flow.variables.size > 0
            ? `The flow's variables are: ${suggest.variableList()}.`
            : 'The flow defines no variables; remove the column.',
      ),
      severity: options.allowUnknownVariables ? 'warning' : 'error',
    });
    if (options.allowUnknownVariables) spec.kind = 'variable';
    return;
  }
  spec.kind = 'variable';
  spec.required = variable.required;
  if (isCheckable(variable)) {
    spec.rule = RULE_BY_TYPE[variable.type] as CellRule;
    if (variable.values !== null) spec.allowed = variable.values;
    return;
  }
  header.issues.push(
    issue(
      'unknown-variable-type',
      at,
      variable.type === 'enum'
        ? `Variable "${name}" is an enum whose config lists no values, so its cells are accepted as text.`
        : `Variable "${name}" has type "${variable.type}", which this tool does not check; its cells are accepted as text.`,
      'Check these values by hand, or update atomic-bulk.',
    ),
  );
}

function classifyCardOption({ spec, at }: NamedColumn, option: string, header: HeaderContext) {
  if ((CARD_OPTIONS as readonly string[]).includes(option)) {
    spec.kind = 'card-option';
    spec.rule = RULE_BY_CARD_OPTION[option as CardOption];
    if (option === 'expires') header.plan.expires = spec.index;
    if (option === 'embargo') header.plan.embargo = spec.index;
    return;
  }
  const guess = header.suggest.cardOption(option);
  header.issues.push(
    issue(
      'unknown-card-option',
      at,
      `"${option}" is not a card option.`,
      guess !== undefined
        ? `Did you mean ${CARD_OPTION_PREFIX}${guess}?`
        : `Card options are: ${CARD_OPTIONS.join(', ')}.`,
    ),
  );
}
