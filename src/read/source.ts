import type { FileStart, LineMap } from '../model/line-map.js';

/** Bytes the pipelines can read more than once: a file, standard input, an S3 object. */
export interface ByteSource {
  /** As given by the user: a path, `-`, or an s3:// URI. */
  readonly name: string;
  /** Size in bytes when known before reading (files, S3), for progress. */
  readonly size: number | null;
  /** Starts a pass over the bytes. */
  read(): AsyncIterable<Buffer>;
  /** Removes any spool file. */
  close(): Promise<void>;
}

/**
 * The input of a run: one source, or several files read as one CSV (read/multi-input.ts),
 * whose passes mark where each file begins.
 */
export interface InputSource {
  readonly name: string;
  readonly size: number | null;
  /** Every file of a multi-file input, in reading order; null for a single source. */
  readonly files: readonly string[] | null;
  /** Where each file's lines begin; empty for a single source. */
  readonly lines: LineMap;
  read(): AsyncIterable<Buffer | FileStart>;
  close(): Promise<void>;
}
