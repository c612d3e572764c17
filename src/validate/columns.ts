/**
 * Header analysis: turns the header record and the flow config into a plan that says,
 * for every column, what it is and which rule its cells follow, plus the header-level
 * issues of SPEC 2.1–2.3. The row checker then works from the plan alone.
 *
 * A name is checked as text first (below: invisible characters, blanks, spaces, accents,
 * repeats), then classified by its prefix (column-kinds.ts).
 */
import type { FlowConfig } from '../model/flow.js';
import { issue, type Issue, type IssueCode } from '../model/issue.js';
import {
  annotationStart,
  RECOMMENDED_TARGET,
  TARGET_PREFIX,
  VARIABLE_PREFIX,
  type ColumnPlan,
  type ColumnPlanOptions,
  type ColumnSpec,
} from './column-names.js';
import { classify, type HeaderContext, type NamedColumn } from './column-kinds.js';
import { describeCodePoint, findInvisible, lookAlikeKey } from './header-text.js';
import { HeaderSuggestions } from './header-suggestions.js';

export * from './column-names.js';

export function planColumns(
  header: string[],
  flow: FlowConfig,
  options: ColumnPlanOptions,
): ColumnPlan {
  const issues: Issue[] = [];
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
  if (wrongSeparator(plan, options)) return plan;
  const variableColumns = new Set<string>();
  const suggest = new HeaderSuggestions(flow);
  const context: HeaderContext = { flow, options, plan, issues, variableColumns, suggest };
  const seen: SeenNames = { header, first: new Map(), lookAlikes: new Map() };
  header.forEach((raw, index) => {
    const spec: ColumnSpec = { index, name: raw, kind: 'unusable', rule: 'text', required: false };
    plan.columns.push(spec);
    if (index >= plan.annotationStart && seen.first.get(raw) === undefined) {
      spec.kind = 'annotation';
      seen.first.set(raw, index);
      return;
    }
    const at = { line: options.headerLine, record: 0, column: raw, columnIndex: index + 1 };
    const column: NamedColumn & { raw: string } = { spec, raw, name: raw.trim(), at };
    if (!usableName(column, seen, issues)) return;
    seen.lookAlikes.set(lookAlikeKey(column.name), index);
    seen.first.set(column.name, index);
    classify(column, context);
  });
  missingColumns(context);
  return plan;
}

/** The names seen so far: first column of each, and of each look-alike key (NFC, lower case). */
interface SeenNames {
  header: readonly string[];
  first: Map<string, number>;
  lookAlikes: Map<string, number>;
}

type NameCheck = (
  column: NamedColumn & { raw: string },
  seen: SeenNames,
) => { code: IssueCode; message: string; hint: string } | null;

/** Checks of a header name as text, in order; each fault but surrounding spaces ends the column. */
const NAME_CHECKS: readonly NameCheck[] = [
  ({ raw, spec }) => {
    const invisible = findInvisible(raw);
    if (invisible === null) return null;
    const more = invisible.count - 1;
    return {
      code: 'invisible-character',
      message: `Header of column ${spec.index + 1} contains ${describeCodePoint(invisible.codePoint)} at character ${invisible.position}${more > 0 ? ` (and ${more} more invisible character${more === 1 ? '' : 's'})` : ''}: it cannot be seen, but the name is not the one it looks like.`,
      hint: 'Retype the header name, or delete the character with an editor that shows invisible characters; it usually comes from copying a name out of a web page or a document.',
    };
  },
  ({ name, spec }) =>
    name !== ''
      ? null
      : {
          code: 'blank-header',
          message: `Column ${spec.index + 1} has no name.`,
          hint: 'Name the column, or delete it if it holds nothing.',
        },
  ({ name, raw, spec }) =>
    name === raw
      ? null
      : {
          code: 'header-whitespace',
          message: `Header of column ${spec.index + 1} has spaces before or after the name.`,
          hint: `Rename it to "${name}".`,
        },
  ({ name, spec }) =>
    name === name.normalize('NFC')
      ? null
      : {
          code: 'unnormalized-header',
          message: `Header of column ${spec.index + 1} is written with decomposed accents (Unicode NFD): it looks like "${name.normalize('NFC')}" but is a different name to Atomic and to the flow.`,
          hint: 'Retype the name, or save the file from an editor that writes composed characters (NFC).',
        },
  ({ name, spec }, { first }) => {
    const earlier = first.get(name);
    if (earlier === undefined) return null;
    return {
      code: 'duplicate-header',
      message: `Column "${name}" appears twice (columns ${earlier + 1} and ${spec.index + 1}).`,
      hint: 'Delete one of the two columns, or rename it.',
    };
  },
  ({ name, spec }, { header, lookAlikes }) => {
    const twin = lookAlikes.get(lookAlikeKey(name));
    if (twin === undefined) return null;
    return {
      code: 'ambiguous-header',
      message: `Columns ${twin + 1} (${header[twin] as string}) and ${spec.index + 1} (${name}) differ only by letter case: Atomic treats them as two different fields.`,
      hint: 'Keep one spelling: merge the two columns into one, or delete the one you did not mean.',
    };
  },
];

/** Reports what is wrong with a name as text; false when the column cannot be used. */
function usableName(
  column: NamedColumn & { raw: string },
  seen: SeenNames,
  issues: Issue[],
): boolean {
  for (const check of NAME_CHECKS) {
    const fault = check(column, seen);
    if (fault === null) continue;
    issues.push(issue(fault.code, column.at, fault.message, fault.hint));
    if (fault.code !== 'header-whitespace') return false;
  }
  return true;
}

/** Required variables, campaign keys and a target column the header lacks. */
function missingColumns({ flow, options, plan, issues, variableColumns }: HeaderContext): void {
  const at = { line: options.headerLine, record: 0 };
  for (const variable of flow.variables.values()) {
    if (!variable.required || variableColumns.has(variable.name)) continue;
    const column = `${VARIABLE_PREFIX}${variable.name}`;
    issues.push(
      issue(
        'missing-required-variable',
        { ...at, column },
        `The flow requires variable "${variable.name}" but the file has no ${column} column.`,
        `Add a ${column} column with a value in every row.`,
      ),
    );
  }
  // The --campaign-key columns; a missing one is a header error (nothing is sent).
  for (const name of options.campaignKeys ?? []) {
    const index = plan.header.indexOf(name);
    if (index >= 0) plan.campaignKeys.push(index);
    else
      issues.push(
        issue(
          'missing-campaign-key',
          { ...at, column: name },
          `The campaign's key column "${name}" is not in the file, so the campaign cannot tell who was sent to already.`,
          'Add the column, or name the right one with --campaign-key (the campaign keeps the key columns it was started with).',
        ),
      );
  }
  if (plan.targets.length === 0)
    issues.push(
      issue(
        'missing-target-column',
        at,
        `The file has no ${TARGET_PREFIX}<field> column, so no row says which user to send to.`,
        `Add a ${RECOMMENDED_TARGET} column with one user id per row.`,
      ),
    );
}

/**
 * A one-column header that splits into known-looking names on another separator: one
 * issue, and every column unusable. True when it was.
 */
function wrongSeparator(plan: ColumnPlan, options: ColumnPlanOptions): boolean {
  const name = separatorName(plan.header);
  if (name === null) return false;
  const one = name.replace(/s$/, '');
  const sep = options.separatorLine;
  plan.issues.push(
    issue(
      'malformed-csv',
      { line: options.headerLine, record: 0 },
      `The header is one column holding ${name}: the file looks ${one}-separated, not comma-separated.`,
      `${
        sep !== undefined && sep !== null
          ? `Its first line, sep=${sep}, is the separator line Excel writes for a ${one}-separated export. `
          : ''
      }Export it again as CSV with commas as separators (in Excel: "CSV UTF-8 (Comma delimited)").`,
    ),
  );
  plan.columns = plan.header.map((n, index): ColumnSpec => ({
    index,
    name: n,
    kind: 'unusable',
    rule: 'text',
    required: false,
  }));
  return true;
}

function separatorName(header: readonly string[]): string | null {
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
      return name;
  }
  return null;
}
