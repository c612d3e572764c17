/** Preloaded into measured processes: writes their peak RSS (KiB) to BENCH_RSS_FILE on exit. */
import { writeFileSync } from 'node:fs';

const file = process.env.BENCH_RSS_FILE;
if (file !== undefined) {
  process.on('exit', () => {
    writeFileSync(file, JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS }));
  });
}
