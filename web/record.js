// The recording page: MediaRecorder chunks go to the server as binary WebSocket frames, through
// the gateway. Every chunk is kept until the server acknowledges it; when the socket drops, the
// page reconnects, resumes the recording (record-resume) and resends what was not acknowledged.

import { api, formatBytes, formatDuration, whoAmI, withToken, wsUrl } from './api.js';

const $ = (id) => document.getElementById(id);
const ui = {
  mic: $('mic'), metaId: $('metaId'), userId: $('userId'), start: $('start'), stop: $('stop'),
  message: $('message'), level: $('level'), elapsed: $('elapsed'), connection: $('connection'),
  sent: $('sent'), acked: $('acked'), stored: $('stored'), mime: $('mime'),
  result: $('result'), resultName: $('result-name'), player: $('player'), resultLink: $('result-link'),
};

const ERRORS = {
  'invalid-meta-id': 'The name may hold only letters, digits, "-" and "_" (at most 64).',
  'recording-too-large': 'The recording reached the size limit of the server.',
  'too-many-sessions': 'The server is busy; try again in a moment.',
  'storage-error': 'The server could not store the recording.',
};

let session = null;

function say(text, kind = 'info') {
  ui.message.hidden = !text;
  ui.message.textContent = text || '';
  ui.message.className = `message ${kind}`;
}

function setConnection(state) {
  ui.connection.textContent = state;
  ui.connection.className = `state ${state}`;
}

async function listMicrophones() {
  if (!navigator.mediaDevices?.enumerateDevices) return;
  const devices = await navigator.mediaDevices.enumerateDevices();
  for (const device of devices.filter((d) => d.kind === 'audioinput' && d.deviceId)) {
    const option = new Option(device.label || `Microphone ${ui.mic.length}`, device.deviceId);
    if (![...ui.mic.options].some((o) => o.value === device.deviceId)) ui.mic.add(option);
  }
}

function pickMime() {
  const wanted = ['audio/webm;codecs=opus', 'audio/webm', 'audio/ogg;codecs=opus', 'audio/mp4'];
  return wanted.find((type) => MediaRecorder.isTypeSupported(type)) || '';
}

class Session {
  constructor(stream, mimeType) {
    this.stream = stream;
    this.mimeType = mimeType;
    // seq -> ArrayBuffer, until the server has it for good: acknowledged, or, when its acks say
    // how far the recording is durable in a shared store, durable there (a resume on another
    // instance starts from that point, and these are sent again).
    this.pending = new Map();
    this.nextSeq = 0;
    this.sendFrom = 0; // first seq not yet sent on the current socket
    this.sent = 0;
    this.acked = 0;
    this.ready = false; // socket open and recording started/resumed
    this.recorderStopped = false; // the recorder's `stop` event has fired: no chunk is to come
    this.stopping = false;
    this.finished = false;
    this.retryDelay = 250;
    this.startedAt = performance.now();
  }

  async begin(metaId, userId) {
    const started = await this.open({ action: 'record-start', metaId, metaData: { userId }, mimeType: this.mimeType });
    this.recordingId = started.recordingId;
    this.resumeToken = started.resumeToken;
    this.fileName = started.fileName;
    this.recorder = new MediaRecorder(this.stream, this.mimeType ? { mimeType: this.mimeType } : undefined);
    ui.mime.textContent = this.recorder.mimeType || this.mimeType || 'browser default';
    this.recorder.ondataavailable = (event) => {
      if (!event.data || event.data.size === 0) return;
      // The seq is taken now, in the recorder's order; the bytes arrive a moment later. Until
      // then the empty slot holds back later chunks and the end of the recording.
      const seq = this.nextSeq++;
      this.pending.set(seq, null);
      event.data.arrayBuffer().then((bytes) => {
        this.pending.set(seq, bytes);
        this.flush();
        this.maybeEnd();
      });
    };
    // `stop` comes after the recorder's last `dataavailable`. Its state turns `inactive` at the
    // `stop()` call itself, before that last chunk, so the state alone would let an ack arriving
    // in between end the recording one chunk short.
    this.recorder.onstop = () => {
      this.recorderStopped = true;
      this.maybeEnd();
    };
    this.recorder.start(250);
    this.meter();
    this.tick = setInterval(() => { ui.elapsed.textContent = formatDuration(performance.now() - this.startedAt); }, 250);
  }

  /** Opens a socket and sends `first`; resolves with the server's first answer. */
  open(first) {
    return new Promise((resolve, reject) => {
      setConnection('connecting');
      const ws = new WebSocket(wsUrl('/ws/record'));
      ws.binaryType = 'arraybuffer';
      this.ws = ws;
      let answered = false;
      ws.onopen = () => ws.send(JSON.stringify(first));
      ws.onmessage = (event) => {
        const message = JSON.parse(event.data);
        if (!answered) {
          answered = true;
          if (message.type === 'error') return reject(Object.assign(new Error(message.message), { code: message.code }));
          setConnection('open');
          this.ready = true;
          this.retryDelay = 250;
          resolve(message);
          return;
        }
        this.onMessage(message);
      };
      ws.onclose = (event) => {
        this.ready = false;
        if (!answered) return reject(new Error(`connection refused (${event.code})`));
        this.onDrop(event);
      };
      ws.onerror = () => {};
    });
  }

  /** Sends the chunks not yet sent on this socket, strictly in order, while it is ready. */
  flush() {
    if (!this.ready) return;
    while (this.pending.has(this.sendFrom) && this.pending.get(this.sendFrom) !== null) {
      this.ws.send(this.pending.get(this.sendFrom));
      this.sendFrom += 1;
      this.sent = Math.max(this.sent, this.sendFrom);
    }
    ui.sent.textContent = this.sent;
  }

  onMessage(message) {
    if (message.type === 'ack') {
      const keepFrom = message.durable ? message.durable.chunks : message.seq + 1;
      for (const seq of [...this.pending.keys()]) if (seq < keepFrom) this.pending.delete(seq);
      this.acked = Math.max(this.acked, message.seq + 1);
      ui.acked.textContent = this.acked;
      ui.stored.textContent = formatBytes(message.bytes);
      this.maybeEnd();
    } else if (message.type === 'durable') {
      for (const seq of [...this.pending.keys()]) if (seq < message.chunks) this.pending.delete(seq);
    } else if (message.type === 'completed') {
      this.finished = true;
      this.ws.close(1000, 'done');
      setConnection('closed');
      showResult(message);
    } else if (message.type === 'error') {
      say(ERRORS[message.code] || `Server error (${message.code}): ${message.message}`, 'error');
    }
  }

  /** The socket dropped mid-recording: reconnect, resume, resend what was not acknowledged. */
  onDrop(event) {
    if (this.finished) return setConnection('closed');
    setConnection('reconnecting');
    say(`Connection lost (${event.code}); reconnecting — no audio is lost, chunks are kept until the server has them.`, 'info');
    setTimeout(() => this.resume(), this.retryDelay);
    this.retryDelay = Math.min(this.retryDelay * 2, 5000);
  }

  async resume() {
    try {
      const resumed = await this.open({ action: 'record-resume', recordingId: this.recordingId, resumeToken: this.resumeToken });
      for (const seq of [...this.pending.keys()]) if (seq < resumed.nextSeq) this.pending.delete(seq);
      this.acked = resumed.nextSeq;
      this.sendFrom = resumed.nextSeq;
      ui.acked.textContent = this.acked;
      ui.stored.textContent = formatBytes(resumed.bytes);
      say('Reconnected; the recording goes on.', 'ok');
      this.flush();
      this.maybeEnd();
    } catch (error) {
      if (error.code === 'recording-busy' || !error.code) {
        this.onDrop({ code: 'retry' });
      } else {
        say(`The recording could not be resumed: ${error.message}`, 'error');
        this.cleanup();
      }
    }
  }

  stop() {
    this.stopping = true;
    ui.stop.disabled = true;
    if (this.recorder && this.recorder.state !== 'inactive') this.recorder.stop();
    say('Finishing: waiting for the server to store the last chunks…');
  }

  /** Ends the recording once the recorder has stopped and every chunk is acknowledged. */
  maybeEnd() {
    if (this.stopping && this.recorderStopped && this.acked >= this.nextSeq && this.ready && !this.endSent) {
      this.endSent = true;
      this.ws.send(JSON.stringify({ action: 'record-end' }));
    }
  }

  meter() {
    try {
      const context = new AudioContext();
      const analyser = context.createAnalyser();
      analyser.fftSize = 512;
      context.createMediaStreamSource(this.stream).connect(analyser);
      const data = new Uint8Array(analyser.fftSize);
      const draw = () => {
        if (this.finished) return context.close();
        analyser.getByteTimeDomainData(data);
        const peak = data.reduce((max, v) => Math.max(max, Math.abs(v - 128)), 0) / 128;
        ui.level.style.width = `${Math.round(peak * 100)}%`;
        requestAnimationFrame(draw);
      };
      draw();
    } catch { /* no Web Audio: no meter */ }
  }

  cleanup() {
    clearInterval(this.tick);
    this.stream.getTracks().forEach((t) => t.stop());
    ui.start.disabled = false;
    ui.stop.disabled = true;
    ui.level.style.width = '0';
  }
}

function showResult(completed) {
  session.cleanup();
  say(`Saved ${completed.fileName} (${formatBytes(completed.bytes)}, ${completed.chunks} chunks).`, 'ok');
  ui.result.hidden = false;
  ui.resultName.textContent = completed.fileName;
  ui.player.src = withToken(`/api/recordings/${completed.recordingId}/audio`);
  ui.resultLink.href = `/file-list.html?q=${encodeURIComponent(completed.fileName)}`;
  window.lastRecording = completed; // for tests and the curious
}

async function start() {
  say('');
  ui.result.hidden = true;
  if (!window.MediaRecorder) return say('This browser cannot record audio (no MediaRecorder).', 'error');
  if (!navigator.mediaDevices?.getUserMedia) return say('This page needs a secure context (https or localhost) to use the microphone.', 'error');
  const metaId = ui.metaId.value.trim();
  if (metaId && !/^[A-Za-z0-9_-]{1,64}$/.test(metaId)) return say(ERRORS['invalid-meta-id'], 'error');
  ui.start.disabled = true;
  let stream;
  try {
    const deviceId = ui.mic.value;
    stream = await navigator.mediaDevices.getUserMedia({ audio: deviceId ? { deviceId: { exact: deviceId } } : true });
  } catch (error) {
    ui.start.disabled = false;
    const refused = error.name === 'NotAllowedError' || error.name === 'SecurityError';
    return say(refused ? 'Microphone access was refused. Allow it in the browser and try again.' : `No microphone could be opened: ${error.message}`, 'error');
  }
  listMicrophones();
  // Ask for the token now (if the gateway wants one) rather than fail the socket silently.
  const probe = await api('/api/files').catch(() => null);
  if (!probe || probe.status === 401) {
    stream.getTracks().forEach((t) => t.stop());
    ui.start.disabled = false;
    return say(probe ? 'Sign in (or give an access token) to record.' : 'The server cannot be reached.', 'error');
  }
  session = new Session(stream, pickMime());
  window.recordingSession = session;
  try {
    await session.begin(metaId, ui.userId.value.trim());
    ui.stop.disabled = false;
    say('Recording…', 'info');
  } catch (error) {
    session.cleanup();
    setConnection('closed');
    say(ERRORS[error.code] || `Could not start: ${error.message}`, 'error');
  }
}

// Signed in, a user records as themselves: the user id is theirs, not a field to fill.
whoAmI().then((me) => {
  if (me.mode === 'jwt' && me.signedIn) {
    ui.userId.value = me.subject;
    ui.userId.disabled = true;
    ui.userId.title = 'You record as the user you signed in as';
  }
});

ui.start.addEventListener('click', start);
ui.stop.addEventListener('click', () => session && session.stop());
listMicrophones().catch(() => {});
