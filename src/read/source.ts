/** An input the pipelines can read more than once: a file, standard input, an S3 object. */
export interface InputSource {
  /** As given by the user: a path, `-`, or an s3:// URI. */
  readonly name: string;
  /** Size in bytes when known before reading (files, S3), for progress. */
  readonly size: number | null;
  /** Starts a pass over the bytes. */
  read(): AsyncIterable<Buffer>;
  /** Removes any spool file. */
  close(): Promise<void>;
}
