/** Every command's --help: a description, grouped options with defaults, and examples. */
import { describe, expect, it } from 'vitest';
import { runCli } from './cli.js';

const COMMANDS: { name: string; describe: RegExp; groups: string[] }[] = [
  {
    name: 'send',
    describe: /Send a campaign CSV to an Action Flow/,
    groups: ['Flow:', 'Connection', 'Sending:', 'Checks:', 'Output:', 'S3:'],
  },
  {
    name: 'validate',
    describe: /Check every header and cell/,
    groups: ['Flow:', 'Connection', 'Checks:', 'Output:', 'S3:'],
  },
  { name: 'split', describe: /Cut any CSV into parts/, groups: ['Output:', 'Checks:', 'S3:'] },
  { name: 'template', describe: /CSV header and one example row/, groups: ['Flow:', 'Connection'] },
  {
    name: 'flows',
    describe: /List the environment’s Action Flows/,
    groups: ['Connection', 'Flow:', 'Output:'],
  },
  {
    name: 'sandbox',
    describe: /Run the local Atomic sandbox/,
    groups: ['Server:', 'Fault injection', 'S3:'],
  },
];

describe('--help', () => {
  it('lists every command and the exit codes', async () => {
    const run = await runCli(['--help']);
    expect(run.code).toBe(0);
    for (const c of COMMANDS) expect(run.stdout).toMatch(new RegExp(`atomic-bulk ${c.name}\\b`));
    expect(run.stdout.replace(/\s+/g, ' ')).toContain(
      'Exit codes: 0 success, 1 invalid rows, 2 usage or configuration error, 3 remote failure or run held by another send (retry later), 4 partly sent, 5 sent but the report could not be written (re-run with a writable --report-dir), 130 interrupted, 70 a bug in atomic-bulk.',
    );
  });

  it.each(COMMANDS)(
    '$name --help has a description, grouped options with defaults, and examples',
    async ({ name, describe: description, groups }) => {
      const run = await runCli([name, '--help']);
      expect(run.code).toBe(0);
      expect(run.stderr).toBe('');
      const out = run.stdout;
      expect(out).toMatch(description);
      for (const group of groups) expect(out).toContain(`\n${group}`);
      expect(out).toContain('[default:');
      const examples = out.slice(out.indexOf('\nExamples:\n'));
      expect(examples.length).toBeGreaterThan(1);
      const lines = examples.split('\n').filter((l) => l.startsWith(`  atomic-bulk ${name}`));
      expect(lines.length).toBeGreaterThanOrEqual(2);
      expect(lines.length).toBeLessThanOrEqual(4);
    },
  );

  it('says what to do next when a command is misspelled or misused', async () => {
    const misspelled = await runCli(['sned', 'x.csv']);
    expect(misspelled.code).toBe(2);
    expect(misspelled.stderr).toContain('Did you mean send?');
    expect(misspelled.stderr).toContain('Run atomic-bulk --help');
    const missing = await runCli(['split', 'x.csv']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/out-dir/);
  });
});
