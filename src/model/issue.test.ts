import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ISSUE_CODES } from './issue.js';

const schema = JSON.parse(
  readFileSync(join(import.meta.dirname, '../../schemas/report.schema.json'), 'utf8'),
) as {
  properties: { issueCounts: { properties: { byCode: { propertyNames: { enum: string[] } } } } };
  $defs?: Record<string, { properties?: { code?: { enum?: string[] } } }>;
  definitions?: Record<string, { properties?: { code?: { enum?: string[] } } }>;
};

describe('issue codes', () => {
  it('are the same in the code and in both enums of the report schema', () => {
    const codes = Object.keys(ISSUE_CODES).sort();
    expect([...schema.properties.issueCounts.properties.byCode.propertyNames.enum].sort()).toEqual(
      codes,
    );
    const defs = schema.$defs ?? schema.definitions ?? {};
    const issueCodes = Object.values(defs).find((d) => d.properties?.code?.enum)?.properties?.code
      ?.enum as string[];
    expect([...issueCodes].sort()).toEqual(codes);
  });
});
