/**
 * The S3 side of `data download`: requester-pays GET/HEAD/LIST through the AWS SDK with the standard credential
 * chain (environment, shared config/credentials files and profiles, SSO, instance roles), or any S3-compatible
 * server given by `--endpoint` (path-style addressing).
 */
import type { Readable } from 'node:stream';
import {
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  type ListObjectsV2CommandOutput,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';

/** Region the Hyperliquid buckets are assumed in when the credential chain names none (redirects are followed). */
export const DEFAULT_REGION = 'ap-northeast-1';

export interface S3Options {
  /** S3-compatible server (path-style), e.g. http://127.0.0.1:9000. */
  endpoint?: string;
  region?: string;
}

/** A user-fixable S3 problem: no credentials, access denied, bad endpoint. */
export class S3AccessError extends Error {}

export interface ObjectInfo {
  bucket: string;
  key: string;
  bytes: number;
}

export class ArchiveS3 {
  readonly client: S3Client;
  /** Requests sent, by operation (for --dry-run checks and the cost estimate). */
  readonly requests = { get: 0, head: 0, list: 0 };

  constructor(opts: S3Options = {}) {
    this.client = new S3Client({
      region: opts.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? DEFAULT_REGION,
      endpoint: opts.endpoint,
      forcePathStyle: opts.endpoint !== undefined,
      followRegionRedirects: true,
    });
  }

  /** Size of an object, or undefined when the archive does not have it. */
  async head(bucket: string, key: string): Promise<number | undefined> {
    this.requests.head++;
    try {
      const r = await this.client.send(
        new HeadObjectCommand({ Bucket: bucket, Key: key, RequestPayer: 'requester' }),
      );
      return r.ContentLength ?? 0;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw explain(err, bucket, key);
    }
  }

  /** Objects under a prefix (all pages), keyed by key. */
  async list(bucket: string, prefix: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    let token: string | undefined;
    do {
      this.requests.list++;
      let r: ListObjectsV2CommandOutput;
      try {
        r = await this.client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix,
            ContinuationToken: token,
            RequestPayer: 'requester',
          }),
        );
      } catch (err) {
        if (isMissing(err)) return out;
        throw explain(err, bucket, prefix);
      }
      for (const o of r.Contents ?? []) if (o.Key) out.set(o.Key, o.Size ?? 0);
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
    return out;
  }

  /** The object's bytes as a stream, or undefined when the archive does not have it. */
  async get(bucket: string, key: string, signal?: AbortSignal): Promise<Readable | undefined> {
    this.requests.get++;
    try {
      const r = await this.client.send(
        new GetObjectCommand({ Bucket: bucket, Key: key, RequestPayer: 'requester' }),
        {
          abortSignal: signal,
        },
      );
      return r.Body as Readable;
    } catch (err) {
      if (isMissing(err)) return undefined;
      throw explain(err, bucket, key);
    }
  }

  close(): void {
    this.client.destroy();
  }
}

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

export function isMissing(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  return name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchBucket' || status(err) === 404;
}

function explain(err: unknown, bucket: string, key: string): Error {
  const name = (err as { name?: string })?.name ?? '';
  if (
    name === 'CredentialsProviderError' ||
    /Could not load credentials/i.test((err as Error)?.message ?? '')
  ) {
    return new S3AccessError(
      'no AWS credentials: the Hyperliquid buckets are requester-pays, so downloads need an AWS account ' +
        '(set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or run `aws configure`)',
    );
  }
  if (status(err) === 403 || name === 'AccessDenied' || name === 'Forbidden') {
    return new S3AccessError(
      `access denied to s3://${bucket}/${key}: check the AWS credentials (requester-pays needs a signed request from an account that accepts the charges)`,
    );
  }
  if (err instanceof S3ServiceException) {
    return new Error(`s3://${bucket}/${key}: ${err.name}: ${err.message}`);
  }
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND') {
    return new S3AccessError(
      `cannot reach the S3 endpoint for s3://${bucket}/${key} (${code}); check --endpoint and the network`,
    );
  }
  return err instanceof Error ? err : new Error(String(err));
}
