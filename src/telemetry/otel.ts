/**
 * The OpenTelemetry side of a command (SPEC 9), through the official JS packages and
 * configured only by the standard `OTEL_*` variables: the exporters read
 * OTEL_EXPORTER_OTLP_ENDPOINT (and the per-signal endpoints, headers and timeouts)
 * themselves; OTEL_EXPORTER_OTLP_PROTOCOL picks `http/protobuf` (the default) or
 * `http/json`; OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES name the resource. This
 * module is loaded only when those variables ask for telemetry (cli/telemetry.ts).
 *
 * The trace is built when the command ends, from what was recorded as it ran (phase and
 * part start and end times, attempts, retries), so every span carries the run id, which
 * a send learns only after its first pass. One span per command, one per phase, one per
 * part (at most MAX_PART_SPANS).
 */
import { context, SpanStatusCode, trace, type Attributes, type Span } from '@opentelemetry/api';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader } from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import type { ProgressEvent } from '../model/progress.js';
import type { CommandTelemetry, TelemetrySummary } from '../model/telemetry.js';

/** Part spans kept per command; a paced send of more parts records the first ones. */
const MAX_PART_SPANS = 10_000;
/** The longest the end of a command waits for the collector. */
const SHUTDOWN_MS = 5_000;

type Protocol = 'http/protobuf' | 'http/json';

interface Timed {
  name: string;
  start: number;
  end: number | null;
}

interface PartRecord extends Timed {
  number: number;
  rows: number;
  bytes: number;
  attempts: number;
  status: string;
}

const STATUS_BY_EXIT: Record<number, string> = {
  0: 'success',
  1: 'invalid',
  2: 'usage',
  3: 'failed',
  4: 'partial',
  5: 'report-failed',
  70: 'bug',
  130: 'interrupted',
};

export interface OtelSettings {
  command: string;
  env: NodeJS.ProcessEnv;
  version: string;
  /** One line on standard error, for an export that failed. */
  warn: (line: string) => void;
}

function protocolOf(env: NodeJS.ProcessEnv, signal: 'TRACES' | 'METRICS'): Protocol {
  const value =
    env[`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`] ?? env.OTEL_EXPORTER_OTLP_PROTOCOL ?? '';
  return value === 'http/json' ? 'http/json' : 'http/protobuf';
}

/** A span exporter that says once when the collector refused or could not be reached. */
function reporting(exporter: SpanExporter, warn: (line: string) => void): SpanExporter {
  let told = false;
  return {
    export(spans, done) {
      exporter.export(spans, (result) => {
        // ExportResultCode.FAILED (@opentelemetry/core, not imported for one constant).
        if ((result.code as number) === 1 && !told) {
          told = true;
          warn(`telemetry: the traces were not accepted (${result.error?.message ?? 'no answer'})`);
        }
        done(result);
      });
    },
    shutdown: () => exporter.shutdown(),
    forceFlush: () => exporter.forceFlush?.() ?? Promise.resolve(),
  };
}

async function traceExporter(settings: OtelSettings): Promise<SpanExporter> {
  const exporter =
    protocolOf(settings.env, 'TRACES') === 'http/json'
      ? new (await import('@opentelemetry/exporter-trace-otlp-http')).OTLPTraceExporter()
      : new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
  return reporting(exporter, settings.warn);
}

async function metricExporter(settings: OtelSettings) {
  return protocolOf(settings.env, 'METRICS') === 'http/json'
    ? new (await import('@opentelemetry/exporter-metrics-otlp-http')).OTLPMetricExporter()
    : new (await import('@opentelemetry/exporter-metrics-otlp-proto')).OTLPMetricExporter();
}

export async function startOtel(settings: OtelSettings): Promise<CommandTelemetry> {
  const detected = detectResources({ detectors: [envDetector] });
  const resource = resourceFromAttributes({
    'service.name': 'atomic-bulk',
    'service.version': settings.version,
  }).merge(detected);
  const traces = settings.env.OTEL_TRACES_EXPORTER !== 'none';
  const metrics = settings.env.OTEL_METRICS_EXPORTER !== 'none';
  const tracer = traces
    ? new BasicTracerProvider({
        resource,
        spanProcessors: [new BatchSpanProcessor(await traceExporter(settings))],
      })
    : null;
  const meter = metrics
    ? new MeterProvider({
        resource,
        readers: [
          new PeriodicExportingMetricReader({
            exporter: await metricExporter(settings),
            exportIntervalMillis: 60_000,
          }),
        ],
      })
    : null;
  return new OtelCommand(settings, tracer, meter);
}

class OtelCommand implements CommandTelemetry {
  private readonly started = Date.now();
  private readonly phases: Timed[] = [];
  private readonly parts = new Map<number, PartRecord>();
  private retries = 0;
  private readBytes = 0;
  private info: TelemetrySummary | null = null;

  constructor(
    private readonly settings: OtelSettings,
    private readonly tracer: BasicTracerProvider | null,
    private readonly meter: MeterProvider | null,
  ) {}

  progress(event: ProgressEvent): void {
    const now = Date.now();
    if (event.type === 'phase') {
      const open = this.phases.at(-1);
      if (open !== undefined && open.end === null) open.end = now;
      this.phases.push({ name: event.phase, start: now, end: null });
    } else if (event.type === 'read') this.readBytes = event.bytes;
    else if (event.type === 'retry') this.retries++;
    else if (event.type === 'part') this.part(event, now);
  }

  private part(event: Extract<ProgressEvent, { type: 'part' }>, now: number): void {
    if (event.status === 'cut') return;
    let part = this.parts.get(event.number);
    if (part === undefined) {
      if (this.parts.size >= MAX_PART_SPANS) return;
      part = {
        name: `part ${event.number}`,
        number: event.number,
        start: now,
        end: null,
        rows: 0,
        bytes: 0,
        attempts: 0,
        status: 'uploading',
      };
      this.parts.set(event.number, part);
    }
    part.rows = event.rows;
    part.bytes = event.bytes;
    part.attempts = Math.max(part.attempts, event.attempt);
    part.status = event.status;
    if (event.status !== 'uploading') part.end = now;
  }

  summary(summary: TelemetrySummary): void {
    this.info = summary;
  }

  async end(exitCode: number): Promise<void> {
    const ended = Date.now();
    const status = STATUS_BY_EXIT[exitCode] ?? 'failed';
    const common: Attributes = {
      'atomic_bulk.command': this.settings.command,
      'atomic_bulk.run_id': this.info?.runId ?? '',
    };
    if (this.tracer !== null) this.spans(common, status, exitCode, ended);
    if (this.meter !== null) this.record(common, status, ended);
    const shutdown = Promise.all([this.tracer?.shutdown(), this.meter?.shutdown()]);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(() => resolve('late'), SHUTDOWN_MS);
    });
    const result = await Promise.race([shutdown.then(() => 'done' as const), late]).catch(
      (error: unknown) => {
        this.settings.warn(`telemetry: ${(error as Error).message}`);
        return 'done' as const;
      },
    );
    clearTimeout(timer);
    if (result === 'late')
      this.settings.warn(`telemetry: the collector did not answer within ${SHUTDOWN_MS / 1000} s`);
  }

  private spans(common: Attributes, status: string, exitCode: number, ended: number): void {
    const tracer = (this.tracer as BasicTracerProvider).getTracer(
      'atomic-bulk',
      this.settings.version,
    );
    const info = this.info;
    const root = tracer.startSpan(`atomic-bulk ${this.settings.command}`, {
      startTime: this.started,
      attributes: {
        ...common,
        'atomic_bulk.flow': info?.flow ?? '',
        'atomic_bulk.mode': info?.mode ?? '',
        'atomic_bulk.status': status,
        'atomic_bulk.exit_code': exitCode,
        'atomic_bulk.rows.sent': info?.rows?.sent ?? 0,
        'atomic_bulk.retries': this.retries,
      },
    });
    if (exitCode !== 0) root.setStatus({ code: SpanStatusCode.ERROR, message: status });
    const under = (span: Span) => trace.setSpan(context.active(), span);
    let upload: Span | null = null;
    for (const phase of this.phases) {
      const span = tracer.startSpan(
        `phase ${phase.name}`,
        { startTime: phase.start, attributes: common },
        under(root),
      );
      span.end(phase.end ?? ended);
      if (phase.name === 'upload') upload = span;
    }
    for (const part of this.parts.values()) {
      const span = tracer.startSpan(
        part.name,
        {
          startTime: part.start,
          attributes: {
            ...common,
            'atomic_bulk.part': part.number,
            'atomic_bulk.part.rows': part.rows,
            'atomic_bulk.part.bytes': part.bytes,
            'atomic_bulk.part.attempts': part.attempts,
            'atomic_bulk.part.status': part.end === null ? 'unfinished' : part.status,
          },
        },
        under(upload ?? root),
      );
      if (part.status === 'failed' || part.end === null)
        span.setStatus({ code: SpanStatusCode.ERROR });
      span.end(part.end ?? ended);
    }
    root.end(ended);
  }

  private record(common: Attributes, status: string, ended: number): void {
    const m = (this.meter as MeterProvider).getMeter('atomic-bulk', this.settings.version);
    const attributes: Attributes = { ...common, 'atomic_bulk.status': status };
    const rows = this.info?.rows;
    const add = (name: string, value: number, unit: string, description: string) =>
      m.createCounter(name, { unit, description }).add(Math.max(0, value), attributes);
    add('atomic_bulk.rows.validated', rows?.validated ?? 0, '{row}', 'Rows validated');
    add('atomic_bulk.rows.invalid', rows?.invalid ?? 0, '{row}', 'Rows with errors');
    add('atomic_bulk.rows.sent', rows?.sent ?? 0, '{row}', 'Rows uploaded and accepted');
    add(
      'atomic_bulk.rows.skipped',
      rows?.skipped ?? 0,
      '{row}',
      'Valid rows not sent (campaign: sent already)',
    );
    add(
      'atomic_bulk.bytes.read',
      this.info?.bytes?.read ?? this.readBytes,
      'By',
      'Input bytes read',
    );
    add(
      'atomic_bulk.bytes.sent',
      this.info?.bytes?.sent ?? 0,
      'By',
      'Part bytes uploaded and accepted',
    );
    add('atomic_bulk.retries', this.retries, '{retry}', 'Waits before another attempt');
    m.createHistogram('atomic_bulk.command.duration', {
      unit: 's',
      description: 'Duration of the command',
    }).record((ended - this.started) / 1000, attributes);
    const byOutcome = this.info?.rowsByOutcome;
    if (byOutcome !== undefined) {
      const counter = m.createCounter('atomic_bulk.reconcile.rows', {
        unit: '{row}',
        description: 'Rows by outcome (reconcile)',
      });
      for (const [outcome, n] of Object.entries(byOutcome))
        counter.add(n, { ...attributes, 'atomic_bulk.outcome': outcome });
    }
  }
}
