/** A flow config together with where it came from, as the pipelines receive it. */
import type { FlowConfig } from '../model/flow.js';

export interface LoadedFlow {
  config: FlowConfig;
  /** The id the user asked for (or the config's own id for a local file). */
  flowConfigId: string | null;
  version: number | string | null;
  source: 'api' | 'file';
}
