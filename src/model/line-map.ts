/**
 * Where a line of a multi-file input is. Several files that share one header are read as
 * one CSV (read/multi-input.ts): the first file whole, each later file without its header.
 * Line numbers count through that joined CSV, which keeps every stage unchanged; a
 * LineMap turns such a line back into the file it came from and its line there, for
 * everything a person reads (issues, rejected.csv, invocations.csv, messages).
 *
 * For a single-file input the map is empty and a line is itself.
 */

/** Marks the start of one file's bytes in a multi-file input (read/multi-input.ts). */
export class FileStart {
  constructor(
    /** 0-based position of the file in the input's file list. */
    readonly index: number,
    /** The file as the user can find it: a path or an s3:// URI. */
    readonly name: string,
    /** The file's own line number of the first line that follows (its header lines + 1). */
    readonly firstLine: number,
  ) {}
}

export interface Place {
  /** The file, or null for a single-file input. */
  file: string | null;
  line: number;
}

interface Segment {
  index: number;
  name: string;
  /** Line of the joined CSV where the file's lines begin. */
  from: number;
  /** The file's own number for that line. */
  firstLine: number;
}

export class LineMap {
  private readonly segments: Segment[] = [];

  /** True when the input is several files. */
  get multiFile(): boolean {
    return this.segments.length > 0;
  }

  /** Files in the order they were read (those with any bytes). */
  get files(): string[] {
    return this.segments.map((s) => s.name);
  }

  /**
   * Notes that file `start` begins at line `from` of the joined CSV. Every pass over the
   * input reports the same starts; only the first report of a file counts.
   */
  enter(start: FileStart, from: number): void {
    const last = this.segments.at(-1);
    if (last !== undefined && last.index >= start.index) return;
    this.segments.push({ index: start.index, name: start.name, from, firstLine: start.firstLine });
  }

  /** The file and its own line for line `line` of the joined CSV. */
  locate(line: number): Place {
    const segment = this.segmentOf(line);
    if (segment === undefined) return { file: null, line };
    return { file: segment.name, line: line - segment.from + segment.firstLine };
  }

  /** For people: `line 17`, or `part-0003.csv.gz:17` for a multi-file input. */
  label(line: number): string {
    const place = this.locate(line);
    return place.file === null ? `line ${place.line}` : `${place.file}:${place.line}`;
  }

  /** For a CSV column: `17`, or `part-0003.csv.gz:17` for a multi-file input. */
  cell(line: number): string {
    const place = this.locate(line);
    return place.file === null ? String(place.line) : `${place.file}:${place.line}`;
  }

  /** The last segment that starts at or before `line` (binary search). */
  private segmentOf(line: number): Segment | undefined {
    let lo = 0;
    let hi = this.segments.length - 1;
    let found: Segment | undefined;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const s = this.segments[mid] as Segment;
      if (s.from <= line) {
        found = s;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  }
}
