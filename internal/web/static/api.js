// api.js: the JSON API as the app uses it. Every call is same-origin; writes carry
// the session's CSRF token (the mirror_csrf cookie echoed in X-CSRF-Token).

export class APIError extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || `Request failed (${status}).`);
    this.status = status;
    this.code = e.code || 'http_' + status;
    this.details = e.details || [];
    this.requestID = e.request_id || '';
  }
  // describe is the message with the fields it names, for people.
  describe() {
    const fields = this.details.map((d) => `${d.field} ${d.message}`).join('; ');
    return fields ? `${this.message} (${fields})` : this.message;
  }
}

// csrf returns the session's CSRF token, or '' when not signed in.
export function csrf() {
  for (const part of document.cookie.split(';')) {
    const [k, v] = part.trim().split('=');
    if (k === 'mirror_csrf') return decodeURIComponent(v || '');
  }
  return '';
}

// signedIn says whether a browser session exists (its readable CSRF cookie).
export function signedIn() {
  return csrf() !== '';
}

function headers(method, json) {
  const h = { Accept: 'application/json' };
  if (json) h['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD') {
    const t = csrf();
    if (t) h['X-CSRF-Token'] = t;
  }
  return h;
}

async function parse(resp) {
  const text = await resp.text();
  let body = null;
  if (text) {
    try { body = JSON.parse(text); } catch { body = null; }
  }
  if (!resp.ok) throw new APIError(resp.status, body);
  return body;
}

// api sends a JSON request and returns the decoded answer, or throws APIError.
export async function api(method, path, body, { signal } = {}) {
  const resp = await fetch(path, {
    method, signal, credentials: 'same-origin', headers: headers(method, body !== undefined),
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return parse(resp);
}

// query builds a query string from the non-empty values of params.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, v);
  }
  const s = q.toString();
  return s ? '?' + s : '';
}

// events reads a text/event-stream response body and calls onEvent(name, data)
// for each event whose data is JSON. Comments (heartbeats) are skipped.
export async function events(resp, onEvent) {
  const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value.replace(/\r\n?/g, '\n');
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        if (line.startsWith('event:')) name = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      }
      if (data.length) onEvent(name, JSON.parse(data.join('\n')));
    }
  }
}

// stream POSTs body asking for server-sent events and hands each to onEvent.
export async function stream(path, body, onEvent, { signal } = {}) {
  const h = headers('POST', true);
  h.Accept = 'text/event-stream';
  const resp = await fetch(path, { method: 'POST', signal, credentials: 'same-origin', headers: h, body: JSON.stringify(body) });
  if (!resp.ok || !(resp.headers.get('Content-Type') || '').startsWith('text/event-stream')) {
    await parse(resp);
    throw new APIError(resp.status, null);
  }
  await events(resp, onEvent);
}

// upload sends file as multipart field "file", reporting progress (0–1).
// XMLHttpRequest, because fetch reports no upload progress.
export function upload(path, file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Accept', 'application/json');
    const t = csrf();
    if (t) xhr.setRequestHeader('X-CSRF-Token', t);
    xhr.upload.addEventListener('progress', (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    });
    xhr.addEventListener('load', () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch { body = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new APIError(xhr.status, body));
    });
    xhr.addEventListener('error', () => reject(new APIError(0, { error: { message: 'The upload failed: network error.' } })));
    const form = new FormData();
    form.append('file', file, file.name);
    xhr.send(form);
  });
}
