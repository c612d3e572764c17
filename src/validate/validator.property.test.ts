import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { campaignDocument, csvDocument, cutPoints } from '../../test/arbitraries.js';
import { validateCsv } from '../../test/validate-helpers.js';

describe('validation properties', () => {
  it('reports the same issues for any chunking of the input stream', async () => {
    const docs = fc.oneof(
      campaignDocument({ defect: true }).map((d) => d.text),
      csvDocument({ allowMalformed: true }).map(
        (d) => `target.attributes.atomic___id,payload.variables.account\n${d.text}`,
      ),
    );
    await fc.assert(
      fc.asyncProperty(
        docs.chain((text) => fc.tuple(fc.constant(text), cutPoints(Buffer.byteLength(text)))),
        async ([text, cuts]) => {
          const whole = await validateCsv(text, { maxPartBytes: 400 });
          const pieces = await validateCsv(text, { cuts, maxPartBytes: 400 });
          expect(pieces.issues).toEqual(whole.issues);
          expect(pieces.result.rows).toEqual(whole.result.rows);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('finds no errors in a generated valid campaign', async () => {
    await fc.assert(
      fc.asyncProperty(campaignDocument(), async ({ text, lines }) => {
        const { issues, result } = await validateCsv(text);
        expect(issues.filter((i) => i.severity === 'error')).toEqual([]);
        expect(result.rows).toMatchObject({ total: lines.length, valid: lines.length, invalid: 0 });
      }),
      { numRuns: 300 },
    );
  });

  it('reports a defect injected at a random row at that exact line and column', async () => {
    await fc.assert(
      fc.asyncProperty(campaignDocument({ defect: true }), async ({ text, defect }) => {
        const { issues, result } = await validateCsv(text);
        const errors = issues.filter((i) => i.severity === 'error');
        expect(errors).toHaveLength(1);
        expect(errors[0]).toMatchObject({
          code: defect?.code,
          line: defect?.line,
          record: defect?.row,
          column: defect?.column,
        });
        expect(result.rows.invalid).toBe(1);
        expect(result.invalid.has(defect?.row ?? -1)).toBe(true);
      }),
      { numRuns: 400 },
    );
  });
});
