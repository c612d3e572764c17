#!/usr/bin/env bash
# Packs the package with `npm pack`, installs the tarball into an empty directory, and runs
# the README's commands from there: --help, a send to the embedded sandbox, and the library
# API. Proves the published package works on its own, without the source tree.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$root"
tarball="$(npm pack --silent --pack-destination "$work" | tail -n 1)"
echo "packed $tarball ($(du -k "$work/$tarball" | cut -f1) KiB)"

# Only built files, samples, schemas and the package's own docs are shipped.
unexpected="$(tar -tzf "$work/$tarball" | grep -Ev '^package/(dist/.+\.(js|d\.ts)|samples/.+|schemas/.+|docs/[a-z-]+\.md|package\.json|README\.md|ARCHITECTURE\.md|LICENSE)$' || true)"
if [ -n "$unexpected" ]; then
  echo "unexpected files in the tarball:" >&2
  echo "$unexpected" >&2
  exit 1
fi
# Every file the README links to is in the package.
listing="$(tar -tzf "$work/$tarball")"
for link in $(grep -o '](\(docs/[a-z-]*\.md\|[A-Z]*\.md\))' README.md | sed 's/^](//; s/)$//' | sort -u); do
  grep -qx "package/$link" <<<"$listing" || { echo "README links $link, which the package does not ship" >&2; exit 1; }
done
if tar -tzf "$work/$tarball" | grep -q '\.test\.'; then
  echo "test files in the tarball" >&2
  exit 1
fi

app="$work/app"
mkdir -p "$app"
cd "$app"
npm init -y >/dev/null
npm install --no-audit --no-fund "$work/$tarball" >/dev/null
echo "installed into an empty directory"
# The size of a production install that README states is the size measured here.
installed=$( (npm ls --all --parseable 2>/dev/null || true) | tail -n +3 | sort -u | wc -l)
stated=$(grep -o 'production install is [0-9]* packages' "$root/README.md" | grep -o '[0-9]*' || true)
if [ "$installed" != "$stated" ]; then
  echo "README says a production install is $stated packages; the tarball installs $installed" >&2
  exit 1
fi

npx --no-install atomic-bulk --help >/dev/null
npx --no-install atomic-bulk send --help | grep -q 'Examples:'
echo "atomic-bulk --help: ok"

samples="$app/node_modules/atomic-bulk/samples"
npx --no-install atomic-bulk send "$samples/campaign.csv" --flow renewal-reminder --sandbox --report-dir "$app/report" --state-dir "$app/state"
test -s "$app/report/report.json"
test -s "$app/report/report.html"
echo "send --sandbox from the tarball: ok"
# The README's first command for an installed package: no samples/ folder here.
(cd "$app" && npx --no-install atomic-bulk demo --report-dir "$app/demo-report" | grep -q '^Success: 300 rows sent')
echo "demo from the tarball: ok"

cat > check.mjs <<'JS'
import { createSandbox, send, validate, loadFlowFile, AtomicClient } from 'atomic-bulk';
const samples = new URL('./node_modules/atomic-bulk/samples/', import.meta.url).pathname;
const flow = await loadFlowFile(`${samples}flows/renewal-reminder.json`);
const checked = await validate({ input: `${samples}campaign-with-mistakes.csv`, flow, reportDir: 'lib-validate' });
if (checked.report.outcome !== 'invalid') throw new Error(`validate: ${checked.report.outcome}`);
const sandbox = await createSandbox();
try {
  const sent = await send({ input: `${samples}campaign.csv`, flowConfigId: 'renewal-reminder', api: new AtomicClient(sandbox.connection), stateDir: 'lib-state', reportDir: 'lib-send' });
  if (sent.report.outcome !== 'success' || sent.report.rows.sent !== 300) throw new Error(`send: ${sent.report.outcome}`);
  await sandbox.settle();
  if (sandbox.invocations().length !== 300) throw new Error(`sandbox received ${sandbox.invocations().length} invocations`);
} finally {
  await sandbox.stop();
}
console.log('library API from the tarball: ok');
JS
node check.mjs

cat > check.ts <<'TS'
import { validate, type Report, type Issue, type ValidateOptions } from 'atomic-bulk';
const options: ValidateOptions = { input: 'x.csv', flow: null as never };
const use = async (): Promise<Report> => (await validate(options)).report;
const issue: Issue | undefined = undefined;
export { use, issue };
TS
if [ -x "$root/node_modules/.bin/tsc" ]; then
  "$root/node_modules/.bin/tsc" --noEmit --strict --module nodenext --moduleResolution nodenext --target es2022 --skipLibCheck check.ts
  echo "type declarations from the tarball: ok"
fi
