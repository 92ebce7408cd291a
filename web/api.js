// Shared by the pages: the access token (asked once when the gateway needs one, kept in this
// browser), API calls and WebSocket URLs through the gateway.

const TOKEN_KEY = 'gateway_token';

export function token() {
  return localStorage.getItem(TOKEN_KEY) || '';
}

function askToken() {
  const value = prompt('This gateway needs an access token:');
  if (value) localStorage.setItem(TOKEN_KEY, value.trim());
  return Boolean(value);
}

/** fetch() through the gateway; on 401 asks for the token once and tries again. */
export async function api(path, options = {}, retried = false) {
  const headers = new Headers(options.headers || {});
  if (token()) headers.set('Authorization', `Bearer ${token()}`);
  const response = await fetch(path, { ...options, headers });
  if (response.status === 401 && !retried && askToken()) return api(path, options, true);
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

/** A URL the browser can open directly (media, downloads, WebSockets): the token as a query. */
export function withToken(path) {
  if (!token()) return path;
  return `${path}${path.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token())}`;
}

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
