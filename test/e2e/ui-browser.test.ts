/**
 * `iosdevice photos ui` in a real browser: Debian's Chromium driven by playwright-core, against the real CLI (a child
 * process) and the virtual iPhone (in this process, behind its usbmuxd socket, with a slow link so an import takes a
 * few seconds). One browser and one page for the whole flow:
 *
 *   requests without the token, with a foreign Host or Origin → 403;
 *   devices shown (name, model, iOS), a locked second iPhone says so until it is unlocked;
 *   grid by day with thumbnails; click / shift-click / select day / select all;
 *   three photos picked by clicking → Import Selected → 100% → byte-identical (SHA-256) in DEST, keep-or-remove asked;
 *   Import All → Cancel mid-way → no .part, every manifest line a verified file, nothing else placed;
 *   a DEST that cannot be written → a clear message, nothing written;
 *   Import All → the iPhone unplugged mid-way → a clear message, copied files kept and recorded; plugged back in,
 *   Import All copies the rest and "Remove" takes exactly those files off the phone;
 *   a 50,000-item library (served to the page by request interception) keeps only the visible rows in the DOM.
 *
 * The README screenshots (docs/images/photos-ui-grid.png, photos-ui-import.png) are taken here.
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile, chmod } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { startEmulator, type Emulator } from '../../src/virtual-iphone/emulator.ts';
import { BIN, ROOT } from '../support/cli.ts';

const CHROMIUM = '/usr/bin/chromium';
const SHOTS = join(ROOT, 'docs', 'images');
const MAIN_UDID = '00008120-0011223344556677';
const LOCKED_UDID = '00008120-0099AABBCCDDEEFF';

/**
 * The page's DOM as the browser-side callbacks below use it (they run in Chromium; the project's tsconfig has no DOM
 * library, and adding it would change the types of the Node code).
 */
interface PageEl {
  id: string; textContent: string | null; value: string; alt: string; naturalWidth: number; complete: boolean;
  scrollTop: number; scrollHeight: number; dataset: Record<string, string | undefined>;
}
declare const document: {
  getElementById(id: string): PageEl | null; querySelector(s: string): PageEl | null; querySelectorAll(s: string): Iterable<PageEl>;
  activeElement: PageEl | null;
};

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

interface Entry { udid: string; remote: string; sha256: string; local: string; op?: string }

async function manifest(dest: string): Promise<Entry[]> {
  const p = join(dest, '.iosdevice', 'manifest.jsonl');
  if (!existsSync(p)) return [];
  return (await readFile(p, 'utf8')).split('\n').filter((l) => l.trim() !== '').map((l) => JSON.parse(l) as Entry).filter((e) => e.op === undefined && e.sha256 !== undefined);
}

/** Every file placed in DEST (outside .iosdevice) is a manifest entry whose bytes equal the device's file; no .part anywhere. */
async function assertConsistent(dest: string, mediaDir: string): Promise<Entry[]> {
  const entries = await manifest(dest);
  const parts = existsSync(join(dest, '.iosdevice', 'parts')) ? await readdir(join(dest, '.iosdevice', 'parts')) : [];
  assert.deepEqual(parts.filter((n) => n.endsWith('.part')), [], 'no .part left');
  const placed = new Set<string>();
  const walk = async (dir: string, rel: string): Promise<void> => {
    for (const d of await readdir(dir, { withFileTypes: true })) {
      if (rel === '' && d.name === '.iosdevice') continue;
      const r = rel === '' ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) await walk(join(dir, d.name), r);
      else placed.add(r);
    }
  };
  if (existsSync(dest)) await walk(dest, '');
  assert.deepEqual([...placed].sort(), entries.map((e) => e.local).sort(), 'DEST holds exactly the recorded files');
  for (const e of entries) {
    const local = await readFile(join(dest, e.local));
    assert.equal(sha(local), e.sha256, `${e.local} matches its record`);
    assert.equal(sha(await readFile(join(mediaDir, e.remote))), e.sha256, `${e.remote} copied byte for byte`);
  }
  return entries;
}

/** A raw HTTP request (no browser rules): status code. */
function raw(port: number, path: string, headers: Record<string, string>, method = 'GET'): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, method, headers, setHost: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    r.on('error', reject);
    r.end(method === 'POST' ? '{}' : undefined);
  });
}

function startUi(dest: string, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; url: string; output: () => string }> {
  const e = { ...env };
  delete e.NODE_OPTIONS;
  const child = spawn(process.execPath, [BIN, 'photos', 'ui', dest, '--no-open'], { cwd: ROOT, env: e, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 30_000);
    child.stderr!.setEncoding('utf8').on('data', (s: string) => (out += s));
    child.stdout!.setEncoding('utf8').on('data', (s: string) => {
      out += s;
      const m = /http:\/\/127\.0\.0\.1:\d+\/[A-Za-z0-9_-]+\//.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[0], output: () => out });
      }
    });
    child.once('exit', (code) => reject(new Error(`photos ui exited with ${code}: ${out}`)));
  });
}

async function setDest(page: Page, dest: string): Promise<void> {
  await page.fill('#dest', dest);
  await page.locator('#dest').dispatchEvent('change');
  await page.waitForFunction((d) => document.getElementById('dest')!.value === d, dest);
}

/** Clicks an import button; resolves once that import is running (a later one than any shown before). */
async function startImport(page: Page, button: string): Promise<number> {
  const before = Number((await page.getAttribute('#progress', 'data-job')) ?? 0);
  await page.click(button);
  await page.waitForFunction((b) => Number(document.getElementById('progress')!.dataset.job ?? 0) > b, before, { timeout: 30_000 });
  return Number(await page.getAttribute('#progress', 'data-job'));
}

/** Waits for import `job` to end; resolves with the page's message. */
async function waitFinished(page: Page, job: number): Promise<string> {
  await page.waitForSelector(`#progress[data-state="done"][data-job="${job}"]`, { timeout: 60_000 });
  return (await page.textContent('#message')) ?? '';
}

const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`;

test('photos ui in Chromium: pick, import, cancel, bad DEST, unplug, 50k grid', { skip, timeout: 240_000 }, async (t: TestContext) => {
  const tmp = await mkdtemp(join(tmpdir(), 'iosdevice-ui-e2e-'));
  let emu: Emulator | undefined;
  let browser: Browser | undefined;
  let ui: Awaited<ReturnType<typeof startUi>> | undefined;
  try {
    emu = await startEmulator({
      devices: [
        // 1 MB/s: an import of a few MB takes seconds, so Cancel and unplug land mid-way
        { udid: MAIN_UDID, name: "Anna's iPhone", dcimCount: 14, dcim: { scale: 0.12, seed: 11, mix: { heic: 3, jpg: 3, png: 1, mov: 1, live: 2 }, aaeRate: 0 }, thumbnails: true, link: { bytesPerSecond: 1_000_000, roundTripMs: 1 } },
        { udid: LOCKED_UDID, name: 'Work iPhone', dcimCount: 2, dcim: { scale: 0.01 }, locked: true },
      ],
    });
    const main = emu.devices.find((d) => d.udid === MAIN_UDID)!;
    const dest = join(tmp, 'Pictures');
    ui = await startUi(dest, { ...process.env, USBMUXD_SOCKET_ADDRESS: emu.address, XDG_CACHE_HOME: join(tmp, 'cache') });
    const url = new URL(ui.url);
    const port = Number(url.port);
    const token = url.pathname.split('/')[1]!;

    await t.test('requests without the token, or with a foreign Host or Origin, are refused (403)', async () => {
      const host = `127.0.0.1:${port}`;
      assert.equal(await raw(port, `/${token}/api/state`, { host }), 200);
      assert.equal(await raw(port, '/api/state', { host }), 403);
      assert.equal(await raw(port, `/${token.slice(0, -2)}/api/state`, { host }), 403);
      assert.equal(await raw(port, `/${token}/api/state`, { host: `attacker.example:${port}` }), 403);
      assert.equal(await raw(port, `/${token}/api/cancel`, { host, origin: 'http://attacker.example', 'content-type': 'application/json' }, 'POST'), 403);
      assert.equal(await raw(port, `/${token}/api/cancel`, { host, 'content-type': 'application/json' }, 'POST'), 403);
    });

    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--headless=new'] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    const pageErrors: string[] = [];
    page.on('pageerror', (e) => pageErrors.push(e.message));
    await page.goto(ui.url);

    await t.test('devices: name, model, iOS; a locked iPhone says to unlock it, then is trusted', async () => {
      const card = page.locator(`.device[data-udid="${MAIN_UDID}"]`);
      await card.locator('.state', { hasText: 'Ready.' }).waitFor({ timeout: 60_000 });
      assert.match((await card.textContent()) ?? '', /Anna's iPhone.*iPhone\d+,\d+ · iOS 17\.5/);
      const locked = page.locator(`.device[data-udid="${LOCKED_UDID}"]`);
      await locked.locator('.state', { hasText: 'Your iPhone is locked: unlock it' }).waitFor({ timeout: 30_000 });
      emu!.devices.find((d) => d.udid === LOCKED_UDID)!.iphone.lockdown.unlock();
      await locked.locator('.state', { hasText: 'Ready.' }).waitFor({ timeout: 60_000 });
      // in the browser too: a fetch without the token is refused
      const status = await page.evaluate(async () => (await fetch('/api/state')).status);
      assert.equal(status, 403);
    });

    await t.test('grid by day with thumbnails; click, shift-click, select day, select all', async () => {
      await page.locator(`.device[data-udid="${MAIN_UDID}"]`).click();
      await page.waitForSelector('.tile', { timeout: 60_000 });
      await page.waitForFunction(() => [...document.querySelectorAll('.tile img')].some((i) => i.naturalWidth > 0), undefined, { timeout: 30_000 });
      await page.waitForFunction(() => [...document.querySelectorAll('.tile img')].every((i) => i.complete), undefined, { timeout: 30_000 });
      const total = Number(/^(\d+) items/.exec((await page.textContent('#count')) ?? '')?.[1]);
      assert.equal(total, main.manifest!.files.length - main.manifest!.files.filter((f) => f.livePhoto !== undefined).length / 2, 'one tile per asset (a Live Photo is one)');
      assert.ok((await page.locator('.row.day').count()) >= 2, 'grouped by day');
      await mkdir(SHOTS, { recursive: true });
      await page.screenshot({ path: join(SHOTS, 'photos-ui-grid.png') });
      const tiles = page.locator('.tile');
      await tiles.nth(0).click();
      await tiles.nth(3).click({ modifiers: ['Shift'] });
      assert.equal(await page.locator('.tile.selected').count(), 4);
      await tiles.nth(1).click();
      assert.equal(await page.locator('.tile.selected').count(), 3, 'a click toggles');
      await page.click('#select-none');
      await page.locator('.row.day .select-day').first().click();
      const firstDay = await page.evaluate(() => Number(/· (\d+)$/.exec(document.querySelector('.row.day span')!.textContent!)![1]));
      assert.equal(await page.locator('.tile.selected').count(), firstDay);
      await page.click('#select-all');
      assert.match((await page.textContent('#count')) ?? '', new RegExp(`${total} selected`));
      await page.click('#select-none');
    });

    let picked: string[] = [];
    await t.test('three photos picked by clicking are imported byte-identical; keep-or-remove asked, default keep', async () => {
      const still = page.locator('.tile:not(:has(.badge))');
      for (let i = 0; i < 3; i++) await still.nth(i).click();
      picked = await page.$$eval('.tile.selected img', (imgs) => imgs.map((i) => i.alt));
      assert.equal(picked.length, 3);
      const job = await startImport(page, '#import-selected');
      await page.waitForFunction(() => document.getElementById('percent')!.textContent === '100%', undefined, { timeout: 60_000 });
      assert.match(await waitFinished(page, job), /Import complete: 3 of 3 files copied/);
      await page.waitForSelector('#ask[open]');
      assert.match((await page.textContent('#ask-text')) ?? '', /3 imported files are verified/);
      assert.equal(await page.evaluate(() => document.activeElement?.id), 'ask-keep', 'Keep is the default');
      await page.click('#ask-keep');
      const entries = await assertConsistent(dest, main.mediaDir);
      assert.deepEqual(entries.map((e) => e.remote.split('/').pop()).sort(), [...picked].sort());
      for (const e of entries) assert.ok(existsSync(join(main.mediaDir, e.remote)), 'kept on the phone');
      await page.waitForFunction(() => [...document.querySelectorAll('.tile .done')].length === 3, undefined, { timeout: 10_000 });
    });

    await t.test('Cancel mid-import leaves no partial file and a consistent manifest', async () => {
      await page.evaluate(() => { document.getElementById('grid')!.scrollTop = 0; });
      const job = await startImport(page, '#import-all');
      await page.waitForFunction(() => /^([2-9]|\d\d+) of/.test(document.getElementById('progress-files')!.textContent!), undefined, { timeout: 30_000 });
      await page.waitForFunction(() => /\/s/.test(document.getElementById('progress-rate')!.textContent!), undefined, { timeout: 30_000 });
      await page.screenshot({ path: join(SHOTS, 'photos-ui-import.png') });
      await page.click('#cancel');
      assert.match(await waitFinished(page, job), /Import cancelled: \d+ of \d+ files copied/);
      const entries = await assertConsistent(dest, main.mediaDir);
      assert.ok(entries.length > 3 && entries.length < main.manifest!.files.length, `cancelled mid-way (${entries.length} recorded)`);
      if (await page.locator('#ask[open]').count()) await page.click('#ask-keep');
    });

    await t.test('a DEST that cannot be written is a clear message; nothing is written', async () => {
      const blocker = join(tmp, 'not-a-folder');
      await writeFile(blocker, 'x');
      let bad = join(blocker, 'photos'); // below a regular file: cannot be created, not even by root
      if (process.getuid?.() !== 0) {
        bad = join(tmp, 'read-only');
        await mkdir(bad);
        await chmod(bad, 0o555);
      }
      await setDest(page, bad);
      await page.click('#import-all');
      await page.waitForFunction(() => /Cannot write/.test(document.getElementById('message')!.textContent!), undefined, { timeout: 30_000 });
      assert.equal(await page.getAttribute('#message', 'class'), 'error');
      assert.match((await page.textContent('#message')) ?? '', /Cannot write to the destination .*(permission denied|a part of the path is a file).*Nothing was imported/);
      assert.deepEqual(process.getuid?.() !== 0 ? await readdir(bad) : [], []);
      await setDest(page, dest);
    });

    await t.test('the iPhone unplugged mid-import: a clear message, copied files kept and recorded', async () => {
      const before = (await manifest(dest)).length;
      const job = await startImport(page, '#import-all');
      await page.waitForFunction(() => /^[1-9]\d* of/.test(document.getElementById('progress-files')!.textContent!), undefined, { timeout: 30_000 });
      emu!.detach(MAIN_UDID);
      assert.match(await waitFinished(page, job), /The iPhone was disconnected during the import: \d+ of \d+ files copied\. Nothing is lost/);
      await page.waitForSelector(`.device[data-udid="${MAIN_UDID}"]`, { state: 'detached' });
      const entries = await assertConsistent(dest, main.mediaDir);
      assert.ok(entries.length > before, 'what was copied before the unplug is recorded');
      emu!.attach(MAIN_UDID);
      await page.locator(`.device[data-udid="${MAIN_UDID}"] .state`, { hasText: 'Ready.' }).waitFor({ timeout: 60_000 });
    });

    await t.test('plugged back in, Import All copies the rest; "Remove" takes exactly those files off the phone', async () => {
      await page.locator(`.device[data-udid="${MAIN_UDID}"]`).click();
      await page.waitForFunction(() => /^\d+ items \(\d+ already imported\)/.test(document.getElementById('count')!.textContent!), undefined, { timeout: 60_000 });
      const before = new Set((await manifest(dest)).map((e) => e.remote));
      const job = await startImport(page, '#import-all');
      assert.match(await waitFinished(page, job), /Import complete: \d+ of \d+ files copied \(\d+ already in the destination\)/);
      const entries = await assertConsistent(dest, main.mediaDir);
      assert.equal(new Set(entries.map((e) => e.remote)).size, main.manifest!.files.length, 'every file of the phone is in DEST once');
      const fresh = entries.filter((e) => !before.has(e.remote) && e.remote.startsWith('/DCIM/'));
      await page.waitForSelector('#ask[open]');
      assert.match((await page.textContent('#ask-text')) ?? '', new RegExp(`^${fresh.length} imported files are verified`));
      await page.click('#ask-remove');
      await page.waitForFunction(() => /^Removed \d+ files from the iPhone/.test(document.getElementById('message')!.textContent!), undefined, { timeout: 30_000 });
      assert.match((await page.textContent('#message')) ?? '', new RegExp(`^Removed ${fresh.length} files from the iPhone`));
      for (const e of entries) {
        assert.equal(existsSync(join(main.mediaDir, e.remote)), before.has(e.remote), `${e.remote}: only this import's files left the phone`);
        assert.equal(sha(await readFile(join(dest, e.local))), e.sha256, `${e.local} still in DEST`);
      }
    });

    await t.test('50,000 items: only the visible rows are in the DOM, scrolling reaches the last day', async () => {
      const N = 50_000;
      const day = 86_400_000;
      const t0 = Date.UTC(2024, 5, 1, 12);
      const items = Array.from({ length: N }, (_, i) => [i, t0 - Math.floor(i / 7) * day, 2_000_000, i % 9 === 0 ? 1 : 0, `IMG_${String(i).padStart(5, '0')}.HEIC`]);
      const state = {
        devices: [{ udid: 'BIG', name: 'Big iPhone', model: 'iPhone16,1', ios: '18.0', state: 'trusted', message: 'Ready.' }],
        settings: { dest, event: '', splitByDate: false, deleteAfterImport: false }, libraries: { BIG: { state: 'ready', gen: 7, total: N, source: 'photos.sqlite' } }, job: null,
      };
      await page.route('**/api/events', (r) => r.fulfill({ status: 200, contentType: 'text/event-stream', body: `retry: 60000\nevent: state\ndata: ${JSON.stringify(state)}\n\n` }));
      await page.route('**/api/library*', (r) => {
        const q = new URL(r.request().url()).searchParams;
        const off = Number(q.get('offset'));
        const lim = Number(q.get('limit'));
        return r.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify({ udid: 'BIG', gen: 7, total: N, offset: off, items: items.slice(off, off + lim), source: 'photos.sqlite' }) });
      });
      await page.route('**/api/thumb*', (r) => r.fulfill({ status: 404, body: '' }));
      const started = Date.now();
      await page.reload();
      await page.waitForFunction((n) => new RegExp(`^${n} items`).test(document.getElementById('count')!.textContent!), N, { timeout: 60_000 });
      const loadMs = Date.now() - started;
      const inDom = await page.locator('.tile').count();
      assert.ok(inDom > 0 && inDom < 600, `tiles in the DOM: ${inDom}`);
      const scrollStart = Date.now();
      await page.evaluate(() => { const g = document.getElementById('grid')!; g.scrollTop = g.scrollHeight; });
      await page.waitForFunction(() => !!document.querySelector('.tile[data-id="49999"]'), undefined, { timeout: 10_000 });
      const scrollMs = Date.now() - scrollStart;
      assert.ok((await page.locator('.tile').count()) < 600);
      const layoutMs = Number(await page.getAttribute('body', 'data-layout-ms'));
      assert.ok(layoutMs < 2000, `layout of 50k items: ${layoutMs} ms`);
      t.diagnostic(`50k items: page loaded and listed in ${loadMs} ms (5 intercepted pages of 10k), layout ${layoutMs} ms, jump to the end ${scrollMs} ms, ${inDom} tiles in the DOM`);
      await page.unrouteAll({ behavior: 'ignoreErrors' });
    });

    assert.deepEqual(pageErrors, [], 'no script errors on the page');
  } finally {
    await browser?.close().catch(() => undefined);
    if (ui) {
      const code = new Promise<number | null>((r) => ui!.child.once('exit', (c) => r(c)));
      ui.child.kill('SIGTERM');
      const timer = setTimeout(() => ui!.child.kill('SIGKILL'), 10_000);
      const c = await code;
      clearTimeout(timer);
      assert.equal(c, 0, `photos ui ends cleanly on SIGTERM: ${ui.output()}`);
    }
    await emu?.close();
    await rm(tmp, { recursive: true, force: true });
  }
});
