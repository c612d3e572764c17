/** A part: one uploadable CSV file cut from the input, under the byte budget. */
export interface Part {
  /** 1-based, without gaps. */
  number: number;
  /** Where the part's bytes are on disk. */
  path: string;
  /** Exact size in bytes, header and line endings included. */
  bytes: number;
  /** Data rows (the header is not counted). */
  rows: number;
  /** SHA-256 of the part's bytes, hex. */
  sha256: string;
  /** Physical input line where the first row starts, and where the last row ends. */
  firstLine: number;
  lastLine: number;
  /** Data-record numbers of the first and last row. */
  firstRecord: number;
  lastRecord: number;
  /** Where `line,flowInvocationId` pairs of the part's rows were written, if ids were assigned. */
  idsPath: string | null;
  /** SHA-256 of that file, recorded in the sealed run state (null without ids). */
  idsSha256: string | null;
}

/** A part's file name in a run's `parts/` folder: `part-0001.csv`, … */
export function partFileName(number: number): string {
  return `part-${String(number).padStart(4, '0')}.csv`;
}

/** The name of a part's `line,flowInvocationId` file: `part-0001.ids.csv`. */
export function idsFileName(number: number): string {
  return `part-${String(number).padStart(4, '0')}.ids.csv`;
}
