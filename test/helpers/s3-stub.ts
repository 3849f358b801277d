/**
 * A small S3-compatible server for tests and benchmarks: path-style GetObject, HeadObject and ListObjectsV2 over
 * in-memory objects, refusing requests without `x-amz-request-payer: requester` (as a requester-pays bucket
 * does) or without a SigV4 Authorization header. Counts requests per operation; can delay bodies (to kill a
 * client mid-download) and answer a Hyperliquid info API `fundingHistory` (500 rows a page).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StubFunding {
  coin: string;
  fundingRate: string;
  premium: string;
  time: number;
}

export class S3Stub {
  readonly objects = new Map<string, Buffer>();
  readonly requests = { get: 0, head: 0, list: 0, info: 0, refused: 0 };
  funding: StubFunding[] = [];
  /** Milliseconds to wait before sending each GET body (slows a download down for kill tests). */
  getDelayMs = 0;
  private server?: Server;
  url = '';

  put(bucket: string, key: string, body: Buffer): void {
    this.objects.set(`${bucket}/${key}`, body);
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
    await new Promise<void>((r) => this.server?.listen(0, '127.0.0.1', r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.url;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
  }

  private xmlError(res: ServerResponse, status: number, code: string, message: string, head = false): void {
    res.statusCode = status;
    res.setHeader('content-type', 'application/xml');
    res.end(
      head
        ? undefined
        : `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
    );
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stub');
    if (req.method === 'POST' && url.pathname === '/info') {
      this.requests.info++;
      let body = '';
      for await (const c of req) body += c;
      const q = JSON.parse(body) as { type: string; coin: string; startTime: number; endTime?: number };
      if (q.type !== 'fundingHistory') return this.xmlError(res, 422, 'Unsupported', q.type);
      const end = q.endTime ?? Number.POSITIVE_INFINITY;
      const rows = this.funding
        .filter((f) => f.coin === q.coin && f.time >= q.startTime && f.time <= end)
        .sort((a, b) => a.time - b.time)
        .slice(0, 500);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(rows));
      return;
    }
    const head = req.method === 'HEAD';
    if (!req.headers.authorization?.startsWith('AWS4-HMAC-SHA256')) {
      this.requests.refused++;
      return this.xmlError(res, 403, 'AccessDenied', 'Anonymous access is forbidden', head);
    }
    if (req.headers['x-amz-request-payer'] !== 'requester') {
      this.requests.refused++;
      return this.xmlError(res, 403, 'AccessDenied', 'Requester pays: send x-amz-request-payer', head);
    }
    const [, bucket, ...rest] = decodeURIComponent(url.pathname).split('/');
    const key = rest.join('/');
    if (req.method === 'GET' && key === '' && url.searchParams.get('list-type') === '2') {
      this.requests.list++;
      const prefix = url.searchParams.get('prefix') ?? '';
      const keys = [...this.objects.keys()]
        .filter((k) => k.startsWith(`${bucket}/${prefix}`))
        .map((k) => k.slice(bucket.length + 1))
        .sort();
      const contents = keys
        .map(
          (k) =>
            `<Contents><Key>${k}</Key><Size>${this.objects.get(`${bucket}/${k}`)?.length}</Size></Contents>`,
        )
        .join('');
      res.setHeader('content-type', 'application/xml');
      res.end(
        `<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><Name>${bucket}</Name><Prefix>${prefix}</Prefix><KeyCount>${keys.length}</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>false</IsTruncated>${contents}</ListBucketResult>`,
      );
      return;
    }
    const body = this.objects.get(`${bucket}/${key}`);
    if (head) this.requests.head++;
    else if (req.method === 'GET') this.requests.get++;
    if (!body) return this.xmlError(res, 404, 'NoSuchKey', 'The specified key does not exist.', head);
    res.setHeader('content-length', String(body.length));
    res.setHeader('content-type', 'application/octet-stream');
    res.setHeader('x-amz-request-charged', 'requester');
    if (head) {
      res.end();
      return;
    }
    if (this.getDelayMs > 0) await new Promise((r) => setTimeout(r, this.getDelayMs));
    res.end(body);
  }
}
