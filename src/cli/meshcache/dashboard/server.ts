/**
 * `meshcache dashboard`: a page served on loopback, reachable only with the
 * random token of the URL printed at start (anything else: 401). The page
 * polls `/api/state` (the sampler's view) and runs management operations
 * through `/api/manage`, under the operator's identity, so a node that denies
 * the operator denies the page too. No file leaves this process but the page,
 * its script and its style: nothing is fetched from the internet.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runOn } from '../commands/manage.js';
import { failure, type Operator } from '../operator.js';
import { OperationError, type Output } from '../output.js';
import { CLIENT_SCRIPT } from './client.js';
import { PAGE_HTML, PAGE_STYLE } from './page.js';
import { Sampler } from './sampler.js';

export interface DashboardOptions {
  host: string;
  port: number;
  intervalMs: number;
}

const HEADERS = {
  'cache-control': 'no-store',
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
};

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { ...HEADERS, 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

const sendJson = (res: ServerResponse, status: number, value: unknown) =>
  send(res, status, 'application/json; charset=utf-8', JSON.stringify(value));

function readBody(req: IncomingMessage, max = 64 * 1024): Promise<string> {
  return new Promise((resolve, reject) => {
    let size = 0;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        reject(new Error('request body too large'));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

type ManageRequest = { op: 'delete' | 'revoke' | 'clear' | 'invalidate'; service: string; arg: string };

function checkManage(body: unknown): ManageRequest | string {
  if (body === null || typeof body !== 'object') return 'expected a JSON object';
  const { op, service, arg } = body as Record<string, unknown>;
  if (op !== 'delete' && op !== 'revoke' && op !== 'clear' && op !== 'invalidate')
    return 'op must be delete, revoke, clear or invalidate';
  if (typeof service !== 'string' || service.length === 0) return 'service is required';
  if (op !== 'clear' && (typeof arg !== 'string' || arg.trim().length === 0))
    return op === 'delete'
      ? 'key is required'
      : op === 'revoke'
        ? 'pattern is required'
        : 'tags are required';
  return { op, service, arg: typeof arg === 'string' ? arg.trim() : '' };
}

/** Runs one management operation on every member hosting the service; the answer of each. */
async function manage(op: Operator, r: ManageRequest) {
  const params =
    r.op === 'delete'
      ? { key: r.arg }
      : r.op === 'revoke'
        ? { pattern: r.arg }
        : r.op === 'invalidate'
          ? { tags: r.arg.split(/[\s,]+/).filter((t) => t.length > 0) }
          : {};
  const answers = await runOn(op, r.service, r.op, params);
  const bad = answers.find((a) => a.error !== undefined);
  return {
    ok: bad === undefined,
    nodes: answers.map((a) => ({
      peerId: a.peerId,
      ...(a.result ?? {}),
      ...(a.error ? { error: a.error } : {}),
    })),
    ...(bad === undefined ? {} : { error: bad.error }),
  };
}

/** Serves the dashboard until SIGINT or SIGTERM. */
export async function serveDashboard(op: Operator, o: Output, options: DashboardOptions): Promise<void> {
  const token = randomBytes(24).toString('base64url');
  const expected = Buffer.from(token);
  const authorized = (url: URL) => {
    const given = Buffer.from(url.searchParams.get('token') ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  };
  const sampler = new Sampler(op, options.intervalMs);

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://dashboard.invalid');
    if (!authorized(url))
      return send(res, 401, 'text/plain; charset=utf-8', 'unauthorized: open the URL meshcache printed\n');
    const route = `${req.method} ${url.pathname}`;
    switch (route) {
      case 'GET /':
        return send(
          res,
          200,
          'text/html; charset=utf-8',
          PAGE_HTML.replaceAll('{{token}}', encodeURIComponent(token)),
        );
      case 'GET /app.js':
        return send(res, 200, 'text/javascript; charset=utf-8', CLIENT_SCRIPT);
      case 'GET /app.css':
        return send(res, 200, 'text/css; charset=utf-8', PAGE_STYLE);
      case 'GET /api/state':
        return sendJson(res, 200, sampler.state());
      case 'POST /api/manage':
        void readBody(req)
          .then(async (text) => {
            let body: unknown;
            try {
              body = JSON.parse(text);
            } catch {
              return sendJson(res, 400, {
                ok: false,
                error: { code: 'INVALID_PARAMS', message: 'body is not JSON' },
              });
            }
            const checked = checkManage(body);
            if (typeof checked === 'string')
              return sendJson(res, 400, { ok: false, error: { code: 'INVALID_PARAMS', message: checked } });
            try {
              const result = await manage(op, checked);
              const what = `${checked.op} ${checked.service}${checked.arg ? ` ${checked.arg}` : ''}`;
              sampler.note(
                'manage',
                result.ok
                  ? `${what}: done (${JSON.stringify(result.nodes)})`
                  : `${what}: ${result.error?.code}`,
                op.peerId,
              );
              sendJson(res, result.ok ? 200 : 403, result);
            } catch (err) {
              const error =
                err instanceof OperationError ? { code: err.code, message: err.message } : failure(err);
              sendJson(res, 404, { ok: false, error });
            }
          })
          .catch((err: Error) =>
            sendJson(res, 413, { ok: false, error: { code: 'TOO_LARGE', message: err.message } }),
          );
        return;
      default:
        return send(res, 404, 'text/plain; charset=utf-8', 'not found\n');
    }
  });

  await sampler.start();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  const url = `http://${host}:${port}/?token=${token}`;
  if (o.json) o.out(JSON.stringify({ url, host: options.host, port }));
  else {
    o.out(`meshcache dashboard of network '${op.network.networkId}' (as ${op.peerId}):`);
    o.out(`  ${url}`);
    o.out('Ctrl-C to stop.');
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  await sampler.stop();
}
