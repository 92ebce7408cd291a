// The list of recordings: paginated, searchable, with a player, download and delete per row.
// It stays current on its own: through the Server-Sent Events stream (`/api/events`) when the
// service offers it, by polling otherwise.

import { api, apiJson, formatBytes, formatDuration, withToken } from './api.js';

const $ = (id) => document.getElementById(id);
const ui = { rows: $('rows'), search: $('search'), prev: $('prev'), next: $('next'), page: $('page'), message: $('message'), live: $('live') };
const LIMIT = 20;
let page = 1;
let refreshTimer = null;

ui.search.value = new URLSearchParams(location.search).get('q') || '';

function cell(text, label, className) {
  const td = document.createElement('td');
  td.textContent = text;
  td.dataset.label = label;
  if (className) td.className = className;
  return td;
}

function row(recording) {
  const tr = document.createElement('tr');
  tr.dataset.id = recording.id;
  const name = cell(recording.fileName, 'Name', 'name');
  tr.append(
    name,
    cell(recording.userId || '—', 'User'),
    cell(new Date(recording.createdAt).toLocaleString(), 'Created', 'date'),
    cell(formatDuration(recording.durationMs), 'Duration', 'num'),
    cell(formatBytes(recording.size), 'Size', 'num'),
  );
  const status = document.createElement('td');
  status.dataset.label = 'Status';
  status.innerHTML = `<span class="badge ${recording.status}"></span>`;
  status.firstChild.textContent = recording.status;
  tr.append(status);

  const actions = document.createElement('td');
  actions.dataset.label = 'Actions';
  actions.className = 'actions-cell';
  // Not in the recordings' store yet: still recording, or waiting for the store (storing).
  const playable = recording.status !== 'recording' && recording.status !== 'storing';
  const play = Object.assign(document.createElement('button'), { type: 'button', className: 'secondary', textContent: 'Play', disabled: !playable });
  play.setAttribute('aria-label', `Play ${recording.fileName}`);
  play.addEventListener('click', () => {
    let audio = name.querySelector('audio');
    if (!audio) {
      audio = Object.assign(document.createElement('audio'), { controls: true, preload: 'metadata', src: withToken(`/api/recordings/${recording.id}/audio`) });
      name.append(audio);
    }
    audio.play().catch(() => {});
  });
  const download = Object.assign(document.createElement('a'), { href: withToken(`/api/download/${encodeURIComponent(recording.fileName)}`), textContent: 'Download' });
  download.setAttribute('download', recording.fileName);
  const remove = Object.assign(document.createElement('button'), { type: 'button', className: 'danger', textContent: 'Delete', disabled: !playable });
  remove.setAttribute('aria-label', `Delete ${recording.fileName}`);
  remove.addEventListener('click', async () => {
    if (!confirm(`Delete ${recording.fileName}? This cannot be undone.`)) return;
    const response = await api(`/api/recordings/${recording.id}`, { method: 'DELETE' });
    if (response.ok || response.status === 404) load();
    else showError(`Could not delete: ${(await response.json().catch(() => ({}))).message || response.status}`);
  });
  const box = Object.assign(document.createElement('div'), { className: 'row-actions' });
  box.append(play, download, remove);
  actions.append(box);
  tr.append(actions);
  return tr;
}

function showError(text) {
  ui.message.hidden = !text;
  ui.message.textContent = text || '';
}

async function load() {
  const q = ui.search.value.trim();
  try {
    const result = await apiJson(`/api/recordings?page=${page}&limit=${LIMIT}${q ? `&q=${encodeURIComponent(q)}` : ''}`);
    showError('');
    ui.rows.replaceChildren(...result.items.map(row));
    if (result.items.length === 0) {
      ui.rows.innerHTML = `<tr><td colspan="7" class="empty">${q ? 'No recording matches.' : 'No recordings yet. <a href="/websocket-test.html">Record one.</a>'}</td></tr>`;
    }
    const pages = Math.max(1, Math.ceil(result.total / LIMIT));
    ui.page.textContent = `Page ${page} of ${pages} (${result.total})`;
    ui.prev.disabled = page <= 1;
    ui.next.disabled = !result.nextPage;
  } catch (error) {
    showError(`The recordings could not be loaded: ${error.message}`);
  }
}

/** Live updates: SSE when available; otherwise a poll every 3 s. */
function live() {
  if (window.EventSource) {
    const events = new EventSource(withToken('/api/events'));
    events.onopen = () => { ui.live.textContent = 'live'; clearInterval(refreshTimer); refreshTimer = null; };
    events.onmessage = () => load();
    for (const kind of ['started', 'completed', 'processed', 'deleted']) events.addEventListener(kind, () => load());
    events.onerror = () => {
      if (events.readyState === EventSource.CLOSED || !refreshTimer) {
        events.close();
        poll();
      }
    };
  } else {
    poll();
  }
}

function poll() {
  ui.live.textContent = 'refreshing every 3 s';
  if (!refreshTimer) refreshTimer = setInterval(load, 3000);
}

let searchTimer;
ui.search.addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(() => { page = 1; load(); }, 250); });
ui.prev.addEventListener('click', () => { page = Math.max(1, page - 1); load(); });
ui.next.addEventListener('click', () => { page += 1; load(); });
load();
live();
