import { describe, expect, it } from 'vitest';
import { parseS3Uri, s3Client } from './s3.js';

describe('parseS3Uri', () => {
  it('splits bucket and key, a prefix keeping its slash', () => {
    expect(parseS3Uri('s3://drop/in/today.csv')).toEqual({ bucket: 'drop', key: 'in/today.csv' });
    expect(parseS3Uri('s3://drop/reports/')).toEqual({ bucket: 'drop', key: 'reports/' });
    expect(parseS3Uri('s3://drop')).toEqual({ bucket: 'drop', key: '' });
  });

  it('refuses what is not an S3 location, as a usage error', () => {
    for (const bad of ['drop/in.csv', 's3:/drop/in.csv', 's3:///in.csv', 'https://drop/in.csv'])
      expect(() => parseS3Uri(bad)).toThrow(/is not an S3 location; write s3:\/\/bucket\/key/);
  });
});

describe('s3Client', () => {
  it('refuses an endpoint over http that is not loopback: rows would cross in clear text', async () => {
    await expect(s3Client({ endpoint: 'http://s3.example.com' })).rejects.toMatchObject({
      code: 'CONFIG',
    });
    await expect(s3Client({ endpoint: 'http://127.0.0.1:9000' })).resolves.toBeDefined();
  });
});
