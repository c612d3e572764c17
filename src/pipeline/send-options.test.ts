import { describe, expect, it } from 'vitest';
import { resolveSendOptions, SEND_DEFAULTS, type SendOptions } from './send-options.js';
import type { LoadedFlow } from './flow-source.js';

const given: SendOptions = { input: 'x.csv', flowConfigId: 'flow-1', api: null, dryRun: true };

/** A flow loader that records whether it ran: a bad option must cost no API call. */
function loader() {
  const calls = { count: 0 };
  const load = () => {
    calls.count++;
    return Promise.resolve({} as LoadedFlow);
  };
  return { calls, load };
}

describe('resolveSendOptions', () => {
  it('applies the shared defaults', async () => {
    const { load } = loader();
    const options = await resolveSendOptions(given, load);
    expect(options.concurrency).toBe(SEND_DEFAULTS.concurrency);
    expect(options.maxPartBytes).toBe(SEND_DEFAULTS.maxPartBytes);
    expect(options.leaseTtlMs).toBe(SEND_DEFAULTS.leaseTtlMs);
    expect(options.campaign).toBeNull();
  });

  it('refuses an option out of range before the flow is loaded', async () => {
    for (const bad of [{ concurrency: 6 }, { maxPartBytes: 0 }, { leaseTtlMs: 10 }]) {
      const { calls, load } = loader();
      await expect(resolveSendOptions({ ...given, ...bad }, load)).rejects.toMatchObject({
        code: 'USAGE',
      });
      expect(calls.count).toBe(0);
    }
  });

  it('refuses --force in a campaign, and a short campaign secret, before the flow is loaded', async () => {
    const { calls, load } = loader();
    await expect(
      resolveSendOptions({ ...given, force: true, campaign: { name: 'daily' } }, load),
    ).rejects.toMatchObject({ code: 'USAGE' });
    await expect(
      resolveSendOptions({ ...given, campaign: { name: 'daily', secret: 'short' } }, load),
    ).rejects.toMatchObject({ code: 'CONFIG' });
    expect(calls.count).toBe(0);
  });

  it('names the campaign keys once each', async () => {
    const { load } = loader();
    const options = await resolveSendOptions(
      { ...given, campaign: { name: 'daily', keyColumns: ['a', 'b'], oncePer: '1d' } },
      load,
    );
    expect(options.campaign).toMatchObject({ keyColumns: ['a', 'b'], oncePerSeconds: 86_400 });
    await expect(
      resolveSendOptions({ ...given, campaign: { name: 'daily', keyColumns: ['a', 'a'] } }, load),
    ).rejects.toMatchObject({ code: 'USAGE' });
  });
});
