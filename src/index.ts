/**
 * The atomic-bulk library: the same pipelines the CLI runs, for programs that send
 * campaigns themselves. Nothing here prints or exits; results are returned as reports.
 *
 *   import { AtomicClient, send } from 'atomic-bulk';
 *   const api = new AtomicClient(connection);
 *   const { report } = await send({ input: 'campaign.csv', flowConfigId: 'renewal-reminder', api });
 */
import type { Sandbox, SandboxOptions } from './sandbox/sandbox.js';

export { validate, DEFAULT_MAX_ISSUES, DEFAULT_MAX_PART_BYTES } from './pipeline/validate.js';
export type { ValidateOptions, RunResult } from './pipeline/validate.js';
export { split } from './pipeline/split.js';
export type { SplitOptions, SplitResult, InvalidPolicy } from './pipeline/split.js';
export { send } from './pipeline/send.js';
export type { SendOptions, SendResult } from './pipeline/send.js';
export { reconcile } from './pipeline/reconcile.js';
export type { ReconcileOptions, ReconcileResult, ReconcileStrategy } from './pipeline/reconcile.js';
export { cancel } from './pipeline/cancel.js';
export type { CancelOptions, CancelResult } from './pipeline/cancel.js';
export {
  campaignSecretFromEnv,
  forgetKeys,
  listCampaignNames,
  showCampaign,
} from './pipeline/campaigns.js';
export type {
  CampaignsOptions,
  CampaignSummary,
  ForgetResult,
  KeysToForget,
} from './pipeline/campaigns.js';
export { loadFlowFile, loadFlowFromApi } from './pipeline/load-flow.js';
export type { LoadedFlow } from './pipeline/flow-source.js';

export { AtomicClient } from './api/client.js';
export type {
  AtomicApi,
  AtomicClientOptions,
  CardsApi,
  FetchedFlowConfig,
  FlowSummary,
} from './api/client.js';
export { resolveConnection, DEFAULT_TOKEN_URL } from './api/connection.js';
export type { ConnectionSettings } from './api/connection.js';

export { parseFlowConfig } from './model/flow.js';
export type { FlowConfig, VariableSpec } from './model/flow.js';
export { ISSUE_CODES } from './model/issue.js';
export type { Issue, IssueCode, Severity } from './model/issue.js';
export { AtomicBulkError, isAtomicBulkError } from './model/errors.js';
export type { ErrorCode } from './model/errors.js';
export { EXIT, EXIT_BY_ERROR, EXIT_BY_OUTCOME } from './model/outcome.js';
export type {
  Report,
  PartReport,
  Outcome,
  Command,
  SendMode,
  PartStatus,
  ReconcileSection,
  CancelSection,
  CampaignReport,
} from './model/report.js';
export type { CardQuery, CardSummary, CancelScope } from './api/cards.js';
export type { Part } from './model/part.js';
export type { UploadTarget } from './model/upload-target.js';
export type { ProgressEvent, ProgressSink } from './model/progress.js';
export type {
  Sandbox,
  SandboxOptions,
  SandboxTask,
  SandboxStats,
  DirectoryUser,
  CardView,
  NoCardReason,
} from './sandbox/sandbox.js';
export type { SandboxInvocation } from './sandbox/processor.js';

/**
 * Starts the local Atomic sandbox (token, flows, csv-task, uploads, Cards API) on
 * 127.0.0.1. Loaded on demand, so programs that never call it do not load it.
 */
export async function createSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const { createSandbox: start } = await import('./sandbox/sandbox.js');
  return start(options);
}
