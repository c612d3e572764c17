/**
 * A real OTLP/HTTP receiver on 127.0.0.1 for the telemetry tests: it accepts
 * /v1/traces and /v1/metrics as `application/json` or `application/x-protobuf` and decodes
 * both into one simple shape. The protobuf side is a small wire-format reader that knows
 * the few fields of opentelemetry-proto the tests look at (no generated code).
 */
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { onTestFinished } from 'vitest';

export type Value = string | number | boolean;

export interface ReceivedSpan {
  name: string;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  start: number;
  end: number;
  error: boolean;
  attributes: Record<string, Value>;
}

export interface ReceivedPoint {
  value: number;
  attributes: Record<string, Value>;
}

export interface Received {
  contentTypes: string[];
  resource: Record<string, Value>;
  spans: ReceivedSpan[];
  metrics: Record<string, ReceivedPoint[]>;
}

type Fields = Map<number, (bigint | Buffer)[]>;

/** Decodes one protobuf message into its fields: varints and fixed64 as bigint, else bytes. */
function fields(buf: Buffer): Fields {
  const out: Fields = new Map();
  let at = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      const byte = buf[at++] as number;
      result |= BigInt(byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result;
      shift += 7n;
    }
  };
  while (at < buf.length) {
    const key = Number(varint());
    const field = key >> 3;
    const wire = key & 7;
    let value: bigint | Buffer;
    if (wire === 0) value = varint();
    else if (wire === 1) {
      value = buf.subarray(at, at + 8);
      at += 8;
    } else if (wire === 2) {
      const n = Number(varint());
      value = buf.subarray(at, at + n);
      at += n;
    } else if (wire === 5) {
      value = buf.subarray(at, at + 4);
      at += 4;
    } else throw new Error(`wire type ${wire}`);
    out.set(field, [...(out.get(field) ?? []), value]);
  }
  return out;
}

const bytesOf = (f: Fields, n: number) => (f.get(n) ?? []) as Buffer[];
const text = (f: Fields, n: number) => (bytesOf(f, n)[0] ?? Buffer.alloc(0)).toString('utf8');
const hex = (f: Fields, n: number) => (bytesOf(f, n)[0] ?? Buffer.alloc(0)).toString('hex');
const fixed64 = (f: Fields, n: number) => {
  const b = bytesOf(f, n)[0];
  return b === undefined ? 0 : Number(b.readBigUInt64LE(0));
};

function anyValue(f: Fields): Value {
  if (f.has(1)) return text(f, 1);
  if (f.has(2)) return (f.get(2)?.[0] as bigint) !== 0n;
  if (f.has(3)) return Number(BigInt.asIntN(64, f.get(3)?.[0] as bigint));
  if (f.has(4)) return (bytesOf(f, 4)[0] as Buffer).readDoubleLE(0);
  return '';
}

function attributesPb(list: Buffer[]): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const kv of list) {
    const f = fields(kv);
    out[text(f, 1)] = anyValue(fields(bytesOf(f, 2)[0] ?? Buffer.alloc(0)));
  }
  return out;
}

function tracesPb(body: Buffer, into: Received): void {
  for (const rs of bytesOf(fields(body), 1)) {
    const r = fields(rs);
    Object.assign(
      into.resource,
      attributesPb(bytesOf(fields(bytesOf(r, 1)[0] ?? Buffer.alloc(0)), 1)),
    );
    for (const ss of bytesOf(r, 2))
      for (const s of bytesOf(fields(ss), 2)) {
        const f = fields(s);
        const status = bytesOf(f, 15)[0];
        into.spans.push({
          name: text(f, 5),
          traceId: hex(f, 1),
          spanId: hex(f, 2),
          parentSpanId: hex(f, 4),
          start: fixed64(f, 7) / 1e6,
          end: fixed64(f, 8) / 1e6,
          error: status !== undefined && fields(status).get(3)?.[0] === 2n,
          attributes: attributesPb(bytesOf(f, 9)),
        });
      }
  }
}

function pointPb(p: Fields, histogram: boolean): ReceivedPoint {
  if (histogram)
    return {
      value: Number(bytesOf(p, 4)[0]?.readBigUInt64LE(0) ?? 0),
      attributes: attributesPb(bytesOf(p, 9)),
    };
  const value = p.has(4)
    ? (bytesOf(p, 4)[0] as Buffer).readDoubleLE(0)
    : Number((bytesOf(p, 6)[0] as Buffer).readBigInt64LE(0));
  return { value, attributes: attributesPb(bytesOf(p, 7)) };
}

function metricsPb(body: Buffer, into: Received): void {
  for (const rm of bytesOf(fields(body), 1))
    for (const sm of bytesOf(fields(rm), 2))
      for (const m of bytesOf(fields(sm), 2)) {
        const f = fields(m);
        const histogram = f.has(9);
        const data = bytesOf(f, histogram ? 9 : 7)[0] ?? bytesOf(f, 5)[0];
        if (data === undefined) continue;
        const points = bytesOf(fields(data), 1).map((p) => pointPb(fields(p), histogram));
        into.metrics[text(f, 1)] = [...(into.metrics[text(f, 1)] ?? []), ...points];
      }
}

interface JsonKv {
  key: string;
  value: Record<string, unknown>;
}

function attributesJson(list: JsonKv[] | undefined): Record<string, Value> {
  const out: Record<string, Value> = {};
  for (const { key, value } of list ?? []) {
    const v = value.stringValue ?? value.intValue ?? value.doubleValue ?? value.boolValue;
    out[key] = typeof v === 'string' && value.intValue !== undefined ? Number(v) : (v as Value);
  }
  return out;
}

/* eslint-disable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call */
function tracesJson(body: any, into: Received): void {
  for (const rs of body.resourceSpans ?? []) {
    Object.assign(into.resource, attributesJson(rs.resource?.attributes));
    for (const ss of rs.scopeSpans ?? [])
      for (const s of ss.spans ?? [])
        into.spans.push({
          name: s.name,
          traceId: s.traceId,
          spanId: s.spanId,
          parentSpanId: s.parentSpanId ?? '',
          start: Number(s.startTimeUnixNano) / 1e6,
          end: Number(s.endTimeUnixNano) / 1e6,
          error: s.status?.code === 2,
          attributes: attributesJson(s.attributes),
        });
  }
}

function metricsJson(body: any, into: Received): void {
  for (const rm of body.resourceMetrics ?? [])
    for (const sm of rm.scopeMetrics ?? [])
      for (const m of sm.metrics ?? []) {
        const data = m.sum ?? m.gauge ?? m.histogram;
        const points = (data?.dataPoints ?? []).map((p: any) => ({
          value: Number(m.histogram !== undefined ? p.count : (p.asInt ?? p.asDouble)),
          attributes: attributesJson(p.attributes),
        }));
        into.metrics[m.name] = [...(into.metrics[m.name] ?? []), ...points];
      }
}
/* eslint-enable @typescript-eslint/no-explicit-any, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-call */

/** Starts a receiver; closed after the test. */
export async function otlpReceiver(): Promise<{ url: string; received: Received }> {
  const received: Received = { contentTypes: [], resource: {}, spans: [], metrics: {} };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const type = req.headers['content-type'] ?? '';
      received.contentTypes.push(`${req.url ?? ''} ${type}`);
      const json = type.includes('json');
      if (req.url === '/v1/traces') {
        if (json) tracesJson(JSON.parse(body.toString('utf8')), received);
        else tracesPb(body, received);
      } else if (req.url === '/v1/metrics') {
        if (json) metricsJson(JSON.parse(body.toString('utf8')), received);
        else metricsPb(body, received);
      }
      res.writeHead(200, { 'Content-Type': json ? 'application/json' : 'application/x-protobuf' });
      res.end(json ? '{}' : '');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  onTestFinished(() => {
    server.closeAllConnections();
    server.close();
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received };
}
