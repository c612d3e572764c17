/**
 * The "Next step" the tool prints, in one place, so each is a command a person (or a
 * test) can follow literally and still send every row of the file exactly once: the
 * valid rows with `--on-invalid skip`, the fixed rejected.csv as a file of its own (it
 * holds only the rows the first send left out), then reconcile.
 */
import { shellWord } from '../model/shell-word.js';

/** What a suggested command needs: the input as typed, the flow, and flags to repeat. */
export interface CommandContext {
  /** The input as shell words (one path, or several already quoted). */
  input: string;
  flowConfigId: string | null;
  /** Flags the suggested send must repeat (--sandbox, --test, --state-dir …), as given. */
  flags: readonly string[];
  /** Where rejected.csv is (or will be), for the command that sends it fixed. */
  rejectedCsv: string;
  /** The report folder, for reconcile. */
  reportDir: string;
  /** The send went to the embedded sandbox, which stopped with it. */
  sandbox: boolean;
  /** The file has a flowInvocationId column: rows may carry ids used before. */
  ownIds: boolean;
}

/** A command in backticks, each word quoted for a POSIX shell. */
export function command(words: readonly string[]): string {
  return `\`atomic-bulk ${words.join(' ')}\``;
}

function sendCommand(c: CommandContext, input: string, extra: readonly string[] = []): string {
  return command([
    'send',
    input,
    '--flow',
    shellWord(c.flowConfigId ?? '<flowConfigId>'),
    ...c.flags.map(shellWord),
    ...extra,
  ]);
}

function sendFixed(c: CommandContext, invalid: number): string {
  return `fix the ${count(invalid, 'row')} in rejected.csv and send that file with ${sendCommand(c, shellWord(c.rejectedCsv))} (it holds only the rows left out, so no row is sent twice)`;
}

function count(n: number, noun: string): string {
  return `${n.toLocaleString('en-US')} ${noun}${n === 1 ? '' : 's'}`;
}

/** After validate found no error. */
export function validNextStep(c: CommandContext): string {
  return `Send it with ${sendCommand(c, c.input)}.`;
}

/**
 * After validate found errors, or a send that sent nothing because of them (`send` is its
 * --on-invalid policy; null for validate).
 */
export function invalidNextStep(
  c: CommandContext,
  rows: { valid: number; invalid: number },
  fileErrors: number,
  send: 'abort' | 'skip' | null,
): string {
  const nothing =
    send === null
      ? ''
      : `Nothing was sent${send === 'abort' && fileErrors === 0 && rows.valid > 0 ? ' (--on-invalid abort)' : ''}. `;
  if (fileErrors > 0)
    return `${nothing}Fix the header and file problems listed in the report, then run the same command again.`;
  if (rows.valid === 0) return `${nothing}No row is valid: ${sendFixed(c, rows.invalid)}.`;
  return `${nothing}Send the ${count(rows.valid, 'valid row')} now with ${sendCommand(c, c.input, ['--on-invalid', 'skip'])}, then ${sendFixed(c, rows.invalid)}.`;
}

/** After a send whose valid rows went out while others were rejected. */
export function partialNextStep(c: CommandContext, invalid: number): string {
  return `The valid rows were sent. Now ${sendFixed(c, invalid)}. ${reconcileStep(c)}`;
}

/** After a send that sent every row. */
export function sentNextStep(c: CommandContext): string {
  return `All rows were sent; invocations.csv maps every input line to its flowInvocationId. ${reconcileStep(c)}`;
}

function reconcileStep(c: CommandContext): string {
  const reused = c.ownIds
    ? ' The rows carry their own flowInvocationId: an id Atomic has seen with other values is refused and makes no card (Atomic keeps the earlier one); reconcile names such rows "reused".'
    : '';
  return `${reconcileCommand(c)}${reused}`;
}

function reconcileCommand(c: CommandContext): string {
  if (c.sandbox)
    return 'The embedded sandbox stopped with this command, so its cards cannot be checked afterwards; to rehearse reconcile and cancel, start `atomic-bulk sandbox` and send to it.';
  return `Check which rows made cards with ${command(['reconcile', shellWord(c.reportDir), ...reconcileFlags(c.flags)])} (add --wait 10m while Atomic processes).`;
}

/** The flags a reconcile repeats from a send's: where the API is. */
function reconcileFlags(flags: readonly string[]): string[] {
  const out: string[] = [];
  for (let k = 0; k + 1 < flags.length; k++) {
    const flag = flags[k] as string;
    if (CONNECTION_FLAGS.includes(flag)) out.push(flag, shellWord(flags[k + 1] as string));
  }
  return out;
}

const CONNECTION_FLAGS = ['--base-url', '--environment', '--token-url', '--cancel-path'];
