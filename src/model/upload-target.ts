/** Where and how one part is uploaded: what a csv-task response says, fully resolved. */
export type UploadTarget =
  | {
      method: 'POST';
      url: string;
      /** Form fields to send before the file, in this order. */
      fields: [string, string][];
      expiresAt: Date;
      /** Where the expiry came from: the response, the POST policy, or the 300 s assumption. */
      expirySource: 'response' | 'policy' | 'assumed';
      taskId: string | null;
    }
  | {
      method: 'PUT';
      url: string;
      expiresAt: Date;
      expirySource: 'response' | 'assumed';
      taskId: string | null;
    };
