/**
 * "Did you mean" for the header: a variable, a card option, or any sendable column
 * (a fixed name, a flow variable's column, or a mistyped prefix), bounded by one budget.
 */
import type { FlowConfig } from '../model/flow.js';
import { Suggester, SuggestionBudget, type Suggestion } from '../model/suggest.js';
import {
  CARD_OPTION_PREFIX,
  CARD_OPTIONS,
  INVOCATION_ID_COLUMN,
  METADATA_PREFIX,
  NOTIFICATION_PREFIX,
  RECOMMENDED_TARGET,
  TARGET_PREFIX,
  VARIABLE_PREFIX,
} from './column-names.js';

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
export class HeaderSuggestions {
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
