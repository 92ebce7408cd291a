// The two pages in a real Chromium against the stack started as a user starts it.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { artifacts, launchBrowser, root, sha256File, startRecording, startStack, stopRecording, stored, waitForAcked } from './stack.mjs';

let stack;
let browser;

before(async () => {
  stack = await startStack();
  browser = await launchBrowser();
});

after(async () => {
  await browser?.close();
  const exit = await stack?.stop();
  assert.equal(exit.code, 0, `audio-stack should stop cleanly on Ctrl-C: ${JSON.stringify(exit)}`);
});

test('a 3 s recording appears in the list on its own, becomes ready, plays, seeks and downloads intact', async () => {
  const list = await browser.newPage();
  await list.goto(`${stack.base}/file-list.html`);
  await list.waitForSelector('#live:not(:has-text("connecting"))');

  const page = await browser.newPage();
  await page.goto(`${stack.base}/websocket-test.html`);
  await page.screenshot({ path: join(artifacts, 'record-idle.png'), fullPage: true });
  await startRecording(page, stack.base, 'e2e-take');
  await waitForAcked(page, 8);
  await page.waitForTimeout(800);
  await page.screenshot({ path: join(artifacts, 'record-recording.png'), fullPage: true });
  const mime = await page.textContent('#mime');
  assert.match(mime, /webm/);
  const done = await stopRecording(page);
  assert.equal(done.status, 'completed');
  assert.ok(done.bytes > 10000, `only ${done.bytes} bytes`);
  // Every chunk MediaRecorder produced, the last one included, is stored.
  assert.equal(done.chunks, await page.evaluate(() => window.recordingSession.nextSeq));
  await page.screenshot({ path: join(artifacts, 'record-finished.png'), fullPage: true });

  // The list updates without a reload: the row appears and reaches "ready".
  const row = `tr[data-id="${done.recordingId}"]`;
  await list.waitForSelector(`${row} .badge.ready`, { timeout: 30000 });
  await list.screenshot({ path: join(artifacts, 'list-with-entries.png'), fullPage: true });
  // At 1100 px the row's actions sit on one line inside the card, with no horizontal scrolling;
  // on a phone the rows become cards that fit the screen.
  const layout = (selector) => list.evaluate((row) => {
    const card = document.querySelector('.card').getBoundingClientRect();
    const actions = [...document.querySelectorAll(`${row} .row-actions > *`)].map((e) => e.getBoundingClientRect());
    const scroller = document.querySelector('.table-scroll');
    return {
      inside: actions.every((a) => a.left >= card.left && a.right <= card.right),
      centers: actions.map((a) => a.top + a.height / 2),
      tableScrolls: scroller.scrollWidth > scroller.clientWidth,
      pageScrolls: document.documentElement.scrollWidth > window.innerWidth,
    };
  }, selector);
  const wide = await layout(row);
  assert.ok(wide.inside, 'the actions are inside the card at 1100 px');
  assert.ok(Math.max(...wide.centers) - Math.min(...wide.centers) < 4, `the actions are on one line: ${wide.centers}`);
  assert.ok(!wide.tableScrolls && !wide.pageScrolls, 'nothing scrolls sideways at 1100 px');
  await list.setViewportSize({ width: 390, height: 844 });
  const phone = await layout(row);
  assert.ok(phone.inside && !phone.pageScrolls, `the list fits a phone: ${JSON.stringify(phone)}`);
  await list.screenshot({ path: join(artifacts, 'list-phone.png'), fullPage: true });
  await list.setViewportSize({ width: 1100, height: 800 });
  const durationText = await list.textContent(`${row} td[data-label="Duration"]`);
  assert.match(durationText, /^0:0[234]$/, `duration cell ${durationText}`);

  // The inline player has a finite duration of about 3 s and can seek to the middle.
  await list.click(`${row} button:has-text("Play")`);
  const duration = await list.evaluate(async (selector) => {
    const audio = document.querySelector(`${selector} audio`);
    if (!(audio.readyState >= 1)) await new Promise((r) => audio.addEventListener('loadedmetadata', r, { once: true }));
    return audio.duration;
  }, row);
  assert.ok(Number.isFinite(duration), `duration is ${duration}`);
  assert.ok(duration > 2.2 && duration < 4.5, `duration ${duration}`);
  const position = await list.evaluate(async ([selector, target]) => {
    const audio = document.querySelector(`${selector} audio`);
    audio.pause();
    const seeked = new Promise((r) => audio.addEventListener('seeked', r, { once: true }));
    audio.currentTime = target;
    await seeked;
    return audio.currentTime;
  }, [row, duration / 2]);
  assert.ok(Math.abs(position - duration / 2) < 0.3, `seeked to ${position} of ${duration}`);

  // The downloaded bytes are the stored file.
  const downloaded = await list.evaluate(async (name) => {
    const body = await (await fetch(`/api/download/${name}`)).arrayBuffer();
    const digest = await crypto.subtle.digest('SHA-256', body);
    return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('');
  }, done.fileName);
  assert.equal(downloaded, await sha256File(await stored(stack, done.fileName)));
});

test('a dropped WebSocket reconnects by itself and the file has no gap', async () => {
  const page = await browser.newPage();
  await startRecording(page, stack.base, 'e2e-drop');
  await waitForAcked(page, 4);
  await page.evaluate(() => window.recordingSession.ws.close(4000, 'network blip'));
  await page.waitForFunction(() => /reconnect/i.test(document.getElementById('message').textContent), null, { timeout: 5000 });
  await page.waitForFunction(() => /Reconnected/.test(document.getElementById('message').textContent), null, { timeout: 15000 });
  await page.waitForTimeout(1000);
  const produced = await page.evaluate(() => window.recordingSession.nextSeq);
  const done = await stopRecording(page);
  const total = await page.evaluate(() => window.recordingSession.nextSeq);
  assert.ok(total >= produced);
  // Every chunk the recorder produced is stored once: the server counted them all.
  assert.equal(done.chunks, total, `server stored ${done.chunks} chunks of ${total}`);

  const meta = await (await fetch(`${stack.base}/api/recordings/${done.recordingId}`)).json();
  for (let i = 0; i < 100 && meta.status !== 'ready'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    Object.assign(meta, await (await fetch(`${stack.base}/api/recordings/${done.recordingId}`)).json());
  }
  assert.equal(meta.status, 'ready');
  const file = await stored(stack, meta.fileName);
  // It decodes without an error, and packet times run on without a hole.
  const errors = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(errors.trim(), '');
  const times = execFileSync('ffprobe', ['-v', 'error', '-select_streams', 'a', '-show_entries', 'packet=pts_time', '-of', 'csv=p=0', file], { encoding: 'utf8' })
    .trim().split('\n').map(Number);
  assert.ok(times.length > 20, `${times.length} packets`);
  const biggestGap = Math.max(...times.slice(1).map((t, i) => t - times[i]));
  assert.ok(biggestGap <= 0.1, `a gap of ${biggestGap} s in the packet times`);
});

test('deleting from the list removes the recording everywhere', async () => {
  const page = await browser.newPage();
  await startRecording(page, stack.base, 'e2e-delete');
  await waitForAcked(page, 3);
  const done = await stopRecording(page);

  const list = await browser.newPage();
  await list.goto(`${stack.base}/file-list.html`);
  const row = `tr[data-id="${done.recordingId}"]`;
  await list.waitForSelector(`${row} .badge.ready`, { timeout: 30000 });
  list.once('dialog', (dialog) => dialog.accept());
  await list.click(`${row} button:has-text("Delete")`);
  await list.waitForSelector(row, { state: 'detached', timeout: 10000 });

  assert.equal((await fetch(`${stack.base}/api/recordings/${done.recordingId}`)).status, 404);
  const files = await (await fetch(`${stack.base}/api/files`)).json();
  assert.ok(!files.includes(done.fileName));
  assert.equal(await stored(stack, done.fileName), null, 'the stored file is gone');
});

test("the original's own page records on /ws/audio and its last chunk, sent after record-end, is kept", async () => {
  const page = await browser.newPage();
  // Served from the gateway's origin, as the original's page was from its gateway's.
  await page.goto(`${stack.base}/websocket-test.html`);
  await page.setContent(await readFile(join(root, 'e2e', 'original', 'websocket-test.html'), 'utf8'));
  await page.fill('#metaId', 'e2e-original');
  await page.fill('#userId', 'original');
  await page.click('#start');
  await page.waitForFunction(() => window.received.some((m) => m.type === 'started'), null, { timeout: 15000 });
  await page.waitForTimeout(3300);
  await page.click('#stop');
  const completed = await page.waitForFunction(() => window.received.find((m) => m.type === 'completed'), null, { timeout: 20000 })
    .then((handle) => handle.jsonValue());
  const made = await page.evaluate(() => ({ chunks: window.chunksMade, bytes: window.bytesMade }));
  // Every chunk MediaRecorder made is stored, the one that came after record-end included.
  assert.ok(made.chunks >= 3, `the recorder made ${made.chunks} chunks`);
  assert.equal(completed.chunks, made.chunks);
  assert.equal(completed.bytes, made.bytes);
  const acks = await page.evaluate(() => window.received.filter((m) => m.type === 'ack').length);
  assert.equal(acks, made.chunks);

  let meta;
  for (let i = 0; i < 100; i++) {
    meta = await (await fetch(`${stack.base}/api/recordings/${completed.recordingId}`)).json();
    if (meta.status === 'ready') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(meta.status, 'ready');
  assert.equal(meta.userId, 'original');
  // It decodes to about the time recorded (3.3 s and the last second's remainder).
  const file = await stored(stack, meta.fileName);
  const seconds = Number(execFileSync('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'default=nw=1:nk=1', file], { encoding: 'utf8' }).trim());
  assert.ok(seconds > 3.0 && seconds < 5.0, `duration ${seconds}`);
  const errors = execFileSync('ffmpeg', ['-v', 'error', '-i', file, '-f', 'null', '-'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  assert.equal(errors.trim(), '');
});
