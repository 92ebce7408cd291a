// Starts the system as a user does (the root `audio-stack` binary, on free ports) and Debian's
// Chromium with a fake microphone, through playwright-core.
//
// The stack runs on the embedded defaults, or on PostgreSQL and S3 when the environment says so
// (`AUDIO_DATABASE_URL`, `AUDIO_RECORDINGS_URL=s3://bucket/prefix` and the `AWS_*` variables, as
// scripts/test sets them for the suite's second run); `stored()` reads a recording from
// wherever the stack stored it.

import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const artifacts = join(root, 'artifacts', 'e2e');

function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
    server.on('error', fail);
  });
}

/** Starts `audio-stack` as a user does, with `extraEnv` on top of this process's environment. */
export async function startStack(extraEnv = {}) {
  const data = await mkdtemp(join(tmpdir(), 'e2e-data-'));
  const [gatewayPort, registryPort] = [await freePort(), await freePort()];
  const env = { ...process.env, RUST_LOG: 'warn', ...extraEnv };
  delete env.KAFKA_BROKERS; // as a user starts it: the embedded bus
  const binary = join(root, 'target', 'debug', 'audio-stack');
  const child = spawn(binary, ['--gateway-port', String(gatewayPort), '--registry-port', String(registryPort), '--data-dir', data], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise((done) => child.on('exit', (code, signal) => done({ code, signal })));
  let printed = '';
  await new Promise((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`audio-stack printed no URLs: ${printed}`)), 30000);
    child.stdout.on('data', (chunk) => {
      printed += chunk;
      if (printed.includes('recordings')) { clearTimeout(timer); done(); }
    });
    child.on('exit', (code) => fail(new Error(`audio-stack exited (${code}): ${printed}`)));
  });
  const base = `http://127.0.0.1:${gatewayPort}`;
  // Ready when the gateway routes to an audio instance.
  for (let i = 0; ; i++) {
    const health = await fetch(`${base}/health`).then((r) => r.json()).catch(() => null);
    if (health && (health.upstreams?.['AUDIO-SERVICE'] || []).length > 0) break;
    if (i > 200) throw new Error('the gateway never reached an audio instance');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    base,
    data,
    async stop() {
      child.kill('SIGINT');
      return exited;
    },
  };
}

export async function launchBrowser() {
  const profile = await mkdtemp(join(tmpdir(), 'e2e-chromium-'));
  await mkdir(artifacts, { recursive: true });
  return chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1100, height: 800 },
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
}

export async function sha256File(path) {
  return createHash('sha256').update(await readFile(path)).digest('hex');
}

/** The recordings' store: `s3://bucket/prefix` as an endpoint URL, or `null` for the folder. */
function s3Store() {
  const url = process.env.AUDIO_RECORDINGS_URL;
  if (!url) return null;
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!match) throw new Error(`AUDIO_RECORDINGS_URL is not s3://bucket/prefix: ${url}`);
  const [, bucket, prefix] = match;
  const endpoint = process.env.AWS_ENDPOINT.replace(/\/$/, '');
  return `${endpoint}/${bucket}${prefix ? `/${prefix.replace(/\/$/, '')}` : ''}`;
}

/** GETs one object with curl's own SigV4 into `file`; answers the HTTP status. */
function s3Get(url, file) {
  const { AWS_ACCESS_KEY_ID: key, AWS_SECRET_ACCESS_KEY: secret, AWS_REGION: region } = process.env;
  const status = execFileSync('curl', ['-s', '-o', file, '-w', '%{http_code}',
    '--aws-sigv4', `aws:amz:${region || 'us-east-1'}:s3`, '--user', `${key}:${secret}`, url], { encoding: 'utf8' });
  return Number(status);
}

/**
 * Where the stored recording `name` can be read as a file: in the data folder, or fetched from
 * the S3 store into a temporary file. `null` when the store has no such recording.
 */
export async function stored(stack, name) {
  const store = s3Store();
  if (!store) {
    const path = join(stack.data, 'recordings', name);
    return existsSync(path) ? path : null;
  }
  const file = join(await mkdtemp(join(tmpdir(), 'e2e-stored-')), name);
  const status = s3Get(`${store}/${encodeURIComponent(name)}`, file);
  if (status === 404) return null;
  if (status !== 200) throw new Error(`GET ${name} from the S3 store answered ${status}`);
  return file;
}

/** Records through the page until `ackedAtLeast` chunks are acknowledged (plus `extraMs`). */
export async function startRecording(page, base, metaId, { signedIn = false } = {}) {
  await page.goto(`${base}/websocket-test.html`);
  await page.fill('#metaId', metaId);
  // Signed in, the user id is the user's own (the page fills and locks the field).
  if (signedIn) await page.waitForSelector('#userId[disabled]');
  else await page.fill('#userId', 'e2e');
  await page.click('#start');
  await page.waitForFunction(() => document.getElementById('connection').textContent === 'open', null, { timeout: 15000 });
}

export async function stopRecording(page) {
  await page.click('#stop');
  await page.waitForSelector('#result:not([hidden])', { timeout: 20000 });
  return page.evaluate(() => window.lastRecording);
}

export async function waitForAcked(page, count) {
  await page.waitForFunction((n) => Number(document.getElementById('acked').textContent) >= n, count, { timeout: 20000 });
}
