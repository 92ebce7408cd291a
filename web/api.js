// Shared by the pages: who is signed in (and the bar in the header that says so), API calls and
// WebSocket URLs through the gateway.
//
// The gateway runs in one of three modes (GET /auth/me says which):
// - open: nothing to do;
// - jwt: users sign in; their token travels in the `gateway_token` cookie, which the browser
//   sends by itself with every call, <audio>, download and socket (/signin.html sets it);
// - token: one shared token, asked once and kept in this browser, sent as a header (and as a
//   query parameter where a browser cannot set headers).

const TOKEN_KEY = 'gateway_token';

let who = null;

/** `GET /auth/me`, once per page. */
export function whoAmI() {
  who = who || fetch('/auth/me', { cache: 'no-store' })
    .then((r) => (r.ok ? r.json() : { mode: 'open', signedIn: true }))
    .catch(() => ({ mode: 'open', signedIn: true }));
  return who;
}

/** The shared token (token mode only). */
export function token() {
  return localStorage.getItem(TOKEN_KEY) || '';
}

function askToken() {
  const value = prompt('This gateway needs an access token:');
  if (value) localStorage.setItem(TOKEN_KEY, value.trim());
  return Boolean(value);
}

/** Sends the browser to the sign-in page, and back here after it. */
export function signIn() {
  location.href = `/signin.html?next=${encodeURIComponent(location.pathname + location.search)}`;
}

/** fetch() through the gateway; on 401 signs in (jwt) or asks for the token once (token). */
export async function api(path, options = {}, retried = false) {
  const { mode } = await whoAmI();
  const headers = new Headers(options.headers || {});
  if (mode === 'token' && token()) headers.set('Authorization', `Bearer ${token()}`);
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401 && !retried) {
    if (mode === 'jwt') signIn();
    else if (mode === 'token' && askToken()) return api(path, options, true);
  }
  return response;
}

/** The JSON body, or an Error carrying the service's message. */
export async function apiJson(path, options) {
  const response = await api(path, options);
  const body = await response.json().catch(() => null);
  if (!response.ok) {
    const message = body && body.message ? body.message : `${response.status} ${response.statusText}`;
    throw Object.assign(new Error(message), { status: response.status, code: body && body.error });
  }
  return body;
}

/** A URL the browser can open directly (media, downloads, event streams, sockets): with the
 * shared token as a query parameter in token mode; in jwt mode the cookie goes by itself. */
export function withToken(path) {
  if (!token() || (who && who.mode !== 'token')) return path;
  return `${path}${path.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token())}`;
}

/** The header's "who" bar: who is signed in, with sign-in and sign-out. */
async function showWho() {
  const header = document.querySelector('header');
  if (!header) return;
  const me = await whoAmI();
  if (me.mode !== 'jwt') return;
  const bar = Object.assign(document.createElement('div'), { id: 'who', className: 'who' });
  if (me.signedIn) {
    const name = Object.assign(document.createElement('strong'), { textContent: me.subject });
    const out = Object.assign(document.createElement('button'), { type: 'button', className: 'secondary', textContent: 'Sign out' });
    out.addEventListener('click', async () => {
      await fetch('/auth/signout', { method: 'POST' });
      signIn();
    });
    bar.append('Signed in as ', name, me.admin ? ' (admin)' : '', ' ', out);
  } else {
    const link = Object.assign(document.createElement('a'), { href: '#', textContent: 'Sign in' });
    link.addEventListener('click', (event) => { event.preventDefault(); signIn(); });
    bar.append('Not signed in · ', link);
  }
  header.append(bar);
}

showWho();

export function wsUrl(path) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${withToken(path)}`;
}

export function formatBytes(bytes) {
  if (bytes == null) return '—';
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KiB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MiB`;
}

export function formatDuration(ms) {
  if (ms == null || !Number.isFinite(ms)) return '—';
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}
