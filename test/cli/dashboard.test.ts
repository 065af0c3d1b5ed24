/**
 * `meshcache dashboard` in a real headless Chromium (Debian's `chromium`,
 * driven by playwright-core; no browser is downloaded): the page lists a
 * member and its cached action, a plot updates, a revoke from the page takes
 * effect on the node; a request without the token is 401.
 *
 * SAVE_SCREENSHOT=1 also writes docs/dashboard.png (the screenshot in the docs).
 */
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NodeProcess } from '../helpers/cluster.js';
import {
  type CliResult,
  call,
  operatorHome,
  peerIdOf,
  ranGetUser,
  spawnAppNode,
  startCli,
} from '../helpers/meshcache-cli.js';

const CHROMIUM = '/usr/bin/chromium';
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** True when Debian's chromium is installed; a loud warning otherwise, and a failure under CI=true. */
function chromiumAvailable(): boolean {
  try {
    execFileSync(CHROMIUM, ['--version'], { stdio: 'ignore', timeout: 20_000 });
    return true;
  } catch {
    const msg = `${CHROMIUM} not found: install it with 'apt-get install -y chromium' (.ci/run does)`;
    if (process.env.CI === 'true') throw new Error(`${msg}; failing because CI=true`);
    console.warn(
      `\n${'!'.repeat(100)}\n!!! SKIPPING THE DASHBOARD BROWSER TEST: ${msg}\n${'!'.repeat(100)}\n`,
    );
    return false;
  }
}

const available = chromiumAvailable();

describe.skipIf(!available)('meshcache dashboard in headless Chromium', () => {
  let home: Awaited<ReturnType<typeof operatorHome>>;
  let users: NodeProcess;
  let dashboard: ReturnType<typeof startCli>;
  let url: URL;
  let profile: string;
  let browser: BrowserContext | undefined;

  beforeAll(async () => {
    home = await operatorHome();
    const identity = join(home.dir, 'operator.key');
    const operator = await peerIdOf(identity, home.dir);
    users = await spawnAppNode('dash-ops', 'users-1', 'user', { accessPeers: [operator] });
    await call(users, 'user/get_user', { id: 1 });
    dashboard = startCli(
      ['dashboard', '--json', '--port', '0', '--interval', '0.5'],
      {
        XDG_CONFIG_HOME: home.dir,
        MESHCACHE_NETWORK: 'dash-ops',
        MESHCACHE_BOOTSTRAP: users.ready.addresses.join(','),
        MESHCACHE_IDENTITY: identity,
      },
      180_000,
    );
    const until = Date.now() + 60_000;
    while (!dashboard.stdout().includes('\n') && Date.now() < until)
      await new Promise((r) => setTimeout(r, 50));
    url = new URL((JSON.parse(dashboard.stdout().split('\n')[0]!) as { url: string }).url);
    profile = await mkdtemp(join(tmpdir(), 'meshcache-chromium-'));
  }, 120_000);

  afterAll(async () => {
    await browser?.close().catch(() => undefined);
    let exit: CliResult | undefined;
    if (dashboard !== undefined) {
      dashboard.child.kill('SIGINT');
      exit = await dashboard.done;
    }
    await users?.stop();
    await rm(profile, { recursive: true, force: true });
    await home?.cleanup();
    expect(exit?.code, exit?.stderr).toBe(0);
  }, 60_000);

  it('answers 401 without the token, or with another', async () => {
    expect(url.hostname).toBe('127.0.0.1');
    const bare = `${url.origin}/`;
    for (const target of [bare, `${bare}?token=nope`, `${url.origin}/api/state`, `${url.origin}/app.js`]) {
      const r = await fetch(target);
      expect(r.status, target).toBe(401);
    }
    const post = await fetch(`${url.origin}/api/manage`, {
      method: 'POST',
      body: '{"op":"clear","service":"user"}',
    });
    expect(post.status).toBe(401);
    const ok = await fetch(`${url.origin}/api/state${url.search}`);
    expect(ok.status).toBe(200);
  });

  it('lists the member and its cached action, updates a plot, and revokes from the page', async () => {
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1280, height: 860 },
    });
    const page = browser.pages()[0] ?? (await browser.newPage());
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(url.toString());

    await page.locator(`#members tr[data-peer="${users.ready.peerId}"]`).waitFor({ timeout: 20_000 });
    await expect(
      page.locator(`#members tr[data-peer="${users.ready.peerId}"]`).textContent(),
    ).resolves.toMatch(/user/);
    const card = page.locator(`.action[data-path="user/get_user"][data-peer="${users.ready.peerId}"]`);
    await card.waitFor({ timeout: 20_000 });

    // A plot updates: more points, and the requests made meanwhile show as a rate above zero.
    const rps = card.locator('svg.spark[data-metric="rps"]');
    const before = Number(await rps.getAttribute('data-points'));
    for (let i = 0; i < 20; i++) await call(users, 'user/get_user', { id: 1 + (i % 3) });
    const polyline = rps.locator('polyline').first();
    const drawn = await polyline.getAttribute('points');
    let seen = { points: before, rate: 0, drawn };
    const until = Date.now() + 20_000;
    while (Date.now() < until) {
      seen = {
        points: Number(await rps.getAttribute('data-points')),
        rate: Math.max(seen.rate, Number(await card.locator('.figures b').nth(1).textContent())),
        drawn: await polyline.getAttribute('points'),
      };
      if (seen.points > before && seen.rate > 0 && seen.drawn !== drawn) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen.points).toBeGreaterThan(before);
    expect(seen.rate).toBeGreaterThan(0);
    expect(seen.drawn).not.toBe(drawn);
    await expect(card.locator('svg.spark[data-metric="rps"] polyline').count()).resolves.toBeGreaterThan(0);

    // Revoke from the page, behind its confirmation.
    const ran = await ranGetUser(users);
    await page.selectOption('#op', 'revoke');
    await page.selectOption('#service', 'user');
    await page.fill('#arg', 'get_user:*');
    await page.click('#run');
    await expect(page.locator('#confirm').isVisible()).resolves.toBe(true);
    await expect(page.locator('#confirm-text').textContent()).resolves.toMatch(
      /Revoke get_user:\* from the cache of user/,
    );
    await page.click('#confirm-yes');
    await page.locator('#result.ok').waitFor({ timeout: 20_000 });
    await expect(page.locator('#result').textContent()).resolves.toMatch(/done[\s\S]*"revoked": 3/);
    await call(users, 'user/get_user', { id: 1 });
    expect(await ranGetUser(users)).toBe(ran + 1);
    await page.locator('#events li[data-kind="manage"]').first().waitFor({ timeout: 10_000 });

    if (process.env.SAVE_SCREENSHOT === '1') {
      // A few seconds of uneven traffic, so the plots of the docs' picture have a shape.
      for (let round = 0; round < 14; round++) {
        for (let i = 0; i < 5 + ((round * 7) % 11); i++)
          await call(users, 'user/get_user', { id: (round + i) % 6 });
        await new Promise((r) => setTimeout(r, 500));
      }
      await new Promise((r) => setTimeout(r, 1200));
    }
    const shot = join('.tmp', 'dashboard.png');
    await mkdir('.tmp', { recursive: true });
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env.SAVE_SCREENSHOT === '1') await copyFile(shot, join('docs', 'dashboard.png'));
    expect(errors).toEqual([]);
  }, 90_000);
});
