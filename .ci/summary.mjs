// Prints one plain line a CI log reader can find: "N passed, N failed" over every
// vitest JSON result file given on the command line.
import { readFileSync, existsSync } from 'node:fs';

let passed = 0;
let failed = 0;
let missing = 0;
for (const file of process.argv.slice(2)) {
  if (!existsSync(file)) {
    missing++;
    continue;
  }
  const result = JSON.parse(readFileSync(file, 'utf8'));
  passed += result.numPassedTests ?? 0;
  failed += (result.numFailedTests ?? 0) + (result.numRuntimeErrorTestSuites ?? 0);
}
console.log(`${passed} passed, ${failed} failed${missing > 0 ? ` (${missing} result files missing)` : ''}`);
