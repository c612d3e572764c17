/**
 * Whether a command sends OpenTelemetry, decided from the standard variables alone: an
 * OTLP endpoint (OTEL_EXPORTER_OTLP_ENDPOINT or a per-signal one) and not
 * OTEL_SDK_DISABLED=true. Only then is telemetry/otel.ts — and with it the OpenTelemetry
 * packages — loaded; without them nothing is imported and nothing is sent. The packages
 * are optional: when they are not installed, one line says how to add them.
 */
import type { CommandTelemetry } from '../model/telemetry.js';
import { TOOL_VERSION } from '../version.js';

export function telemetryWanted(env: NodeJS.ProcessEnv): boolean {
  if ((env.OTEL_SDK_DISABLED ?? '').toLowerCase() === 'true') return false;
  if (env.OTEL_TRACES_EXPORTER === 'none' && env.OTEL_METRICS_EXPORTER === 'none') return false;
  return [
    env.OTEL_EXPORTER_OTLP_ENDPOINT,
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
    env.OTEL_EXPORTER_OTLP_METRICS_ENDPOINT,
  ].some((v) => v !== undefined && v !== '');
}

export const OTEL_PACKAGES =
  '@opentelemetry/api@1.9.0 @opentelemetry/sdk-trace-base@2.12.0 @opentelemetry/sdk-metrics@2.12.0 @opentelemetry/resources@2.12.0 @opentelemetry/exporter-trace-otlp-proto@0.223.0 @opentelemetry/exporter-trace-otlp-http@0.223.0 @opentelemetry/exporter-metrics-otlp-proto@0.223.0 @opentelemetry/exporter-metrics-otlp-http@0.223.0';

/** The command's telemetry, or null when OTEL_* does not ask for it (or it cannot start). */
export async function startTelemetry(
  command: string,
  env: NodeJS.ProcessEnv,
  warn: (line: string) => void,
): Promise<CommandTelemetry | null> {
  if (!telemetryWanted(env)) return null;
  let otel: typeof import('../telemetry/otel.js');
  try {
    otel = await import('../telemetry/otel.js');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    warn(
      code === 'ERR_MODULE_NOT_FOUND'
        ? `telemetry: OTEL_* is set but the OpenTelemetry packages are not installed; nothing is sent (npm install ${OTEL_PACKAGES}).`
        : `telemetry: could not start (${(error as Error).message}); nothing is sent.`,
    );
    return null;
  }
  try {
    return await otel.startOtel({ command, env, version: TOOL_VERSION, warn });
  } catch (error) {
    warn(`telemetry: could not start (${(error as Error).message}); nothing is sent.`);
    return null;
  }
}
