// Two users side by side, each in a browser of their own, on a stack with users' tokens on and
// the development sign-in: each signs in, records, and sees only their own recordings; an admin
// sees both.

import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, test } from 'node:test';

import { artifacts, launchBrowser, startRecording, startStack, stopRecording, waitForAcked } from './stack.mjs';

let stack;
let alice;
let bob;

before(async () => {
  stack = await startStack({
    GATEWAY_JWT_SECRET: 'e2e-development-secret-0123456789abcdef',
    GATEWAY_DEV_SIGNIN: 'true',
  });
  // Two browser processes with profiles of their own: two cookie jars, two users.
  [alice, bob] = [await launchBrowser(), await launchBrowser()];
});

after(async () => {
  await alice?.close();
  await bob?.close();
  const exit = await stack?.stop();
  assert.equal(exit.code, 0, `audio-stack should stop cleanly: ${JSON.stringify(exit)}`);
});

/** Opens the list, is sent to the sign-in page, signs in as `user`, and lands back on the list. */
async function signIn(browser, user, { admin = false } = {}) {
  const page = await browser.newPage();
  await page.goto(`${stack.base}/file-list.html`);
  await page.waitForURL(/\/signin\.html/);
  await page.fill('#user', user);
  if (admin) await page.check('#admin');
  await page.click('#dev button[type="submit"]');
  await page.waitForURL(/\/file-list\.html/);
  await page.waitForSelector(`#who:has-text("Signed in as ${user}${admin ? ' (admin)' : ''}")`);
  return page;
}

async function record(browser, metaId) {
  const page = await browser.newPage();
  await startRecording(page, stack.base, metaId, { signedIn: true });
  await waitForAcked(page, 4);
  const done = await stopRecording(page);
  assert.equal(done.status, 'completed');
  await page.close();
  return done;
}

/** The ids of the rows a list page shows, once `expected` of them are there. */
async function rows(page, expected) {
  const shown = () => page.$$eval('#rows tr[data-id]', (trs) => trs.map((tr) => ({ id: tr.dataset.id, user: tr.querySelector('td[data-label="User"]').textContent })));
  try {
    await page.waitForFunction((n) => document.querySelectorAll('#rows tr[data-id]').length === n, expected, { timeout: 30000 });
  } catch (error) {
    // Say what the page showed instead.
    await page.screenshot({ path: join(artifacts, 'users-failed.png'), fullPage: true });
    const who = await page.textContent('#who').catch(() => null);
    const message = await page.textContent('#message').catch(() => null);
    throw new Error(`expected ${expected} rows; the page (${who}; message ${message}) shows ${JSON.stringify(await shown())}`);
  }
  return shown();
}

test('two signed-in users each see only their own recordings; an admin sees both', async () => {
  const aliceList = await signIn(alice, 'alice');
  const bobList = await signIn(bob, 'bob');
  const mine = await record(alice, 'alice-take');
  const theirs = await record(bob, 'bob-take');

  // Each list updated by itself (its live stream carries only the user's own changes).
  const aliceRows = await rows(aliceList, 1);
  const bobRows = await rows(bobList, 1);
  assert.deepEqual(aliceRows, [{ id: mine.recordingId, user: 'alice' }]);
  assert.deepEqual(bobRows, [{ id: theirs.recordingId, user: 'bob' }]);
  await aliceList.waitForSelector(`tr[data-id="${mine.recordingId}"] .badge.ready`, { timeout: 30000 });
  await aliceList.screenshot({ path: join(artifacts, 'users-alice.png'), fullPage: true });

  // Alice plays her own recording (the cookie goes with the <audio> request by itself).
  await aliceList.click(`tr[data-id="${mine.recordingId}"] button:has-text("Play")`);
  const duration = await aliceList.evaluate(async (id) => {
    const audio = document.querySelector(`tr[data-id="${id}"] audio`);
    if (!(audio.readyState >= 1)) await new Promise((r) => audio.addEventListener('loadedmetadata', r, { once: true }));
    return audio.duration;
  }, mine.recordingId);
  assert.ok(Number.isFinite(duration) && duration > 0.5, `duration ${duration}`);
  // Bob's browser cannot fetch Alice's audio even by its URL.
  const status = await bobList.evaluate(async (id) => (await fetch(`/api/recordings/${id}/audio`)).status, mine.recordingId);
  assert.equal(status, 404);

  // Bob signs out and back in as an admin: both recordings.
  await bobList.click('#who button:has-text("Sign out")');
  await bobList.waitForURL(/\/signin\.html/);
  // (On the run against PostgreSQL and S3 the pages suite's stack shared the database, so an
  // admin sees its recordings too: the two users' are looked for among all.)
  const adminList = await signIn(bob, 'root', { admin: true });
  for (const id of [mine.recordingId, theirs.recordingId]) {
    await adminList.waitForSelector(`tr[data-id="${id}"]`, { timeout: 30000 });
  }
  const all = await adminList.$$eval('#rows tr[data-id]', (trs) => Object.fromEntries(trs.map((tr) => [tr.dataset.id, tr.querySelector('td[data-label="User"]').textContent])));
  assert.equal(all[mine.recordingId], 'alice');
  assert.equal(all[theirs.recordingId], 'bob');
  await adminList.screenshot({ path: join(artifacts, 'users-admin.png'), fullPage: true });
});
