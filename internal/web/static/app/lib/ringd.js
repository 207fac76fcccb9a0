// The protocol as the pages speak it: one module, so that the pages can
// move to the TypeScript client (clients/typescript) by changing imports.
//
// A request is the JSON head, and for one that carries data, a NUL byte and
// the data; an answer that carries data (fetch, callinfo) is read the same
// way. Every answer but 10000 becomes a RingdError.

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// The protocol's address: the server that served the page.
export const apiURL = new URL('/', location.href).href;

export class RingdError extends Error {
  constructor(code, text, retryAfter = 0) {
    super(`${code} ${text}`);
    this.code = code;
    this.text = text;
    this.retryAfter = retryAfter; // seconds, from Retry-After on 10009
  }
}

// body is what is POSTed: the head alone, or the head with its length,
// a NUL and the data (a string, a Uint8Array or a Blob such as a File).
function body(head, data) {
  if (data === undefined || data === null) return JSON.stringify(head);
  if (typeof data === 'string') data = encoder.encode(data);
  const length = data instanceof Blob ? data.size : data.byteLength;
  return new Blob([JSON.stringify({ ...head, length }), new Uint8Array([0]), data]);
}

// parse reads an answer; its data, if any, is in .data (a Uint8Array).
function parse(buffer, retryAfter) {
  const bytes = new Uint8Array(buffer);
  const nul = bytes.indexOf(0);
  const head = JSON.parse(decoder.decode(nul < 0 ? bytes : bytes.subarray(0, nul)));
  if (head.answer !== 10000) throw new RingdError(head.answer, head.error, retryAfter);
  if (nul >= 0) head.data = bytes.subarray(nul + 1);
  return head;
}

// request sends one request and returns its answer. signal aborts it
// (a long-poll when the page leaves).
export async function request(head, data, { signal } = {}) {
  const resp = await fetch(apiURL, {
    method: 'POST',
    body: body(head, data),
    // text/plain keeps a cross-origin call simple; ringd reads any type.
    headers: { 'Content-Type': 'text/plain' },
    signal,
    cache: 'no-store',
  });
  const buffer = await resp.arrayBuffer();
  return parse(buffer, Number(resp.headers.get('Retry-After')) || 0);
}

// upload sends a request whose data is a Blob, reporting progress as
// onProgress(sentBytes, totalBytes): fetch cannot tell how much of a body
// has gone, XMLHttpRequest can.
export function upload(head, blob, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', apiURL);
    xhr.responseType = 'arraybuffer';
    xhr.setRequestHeader('Content-Type', 'text/plain');
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
    xhr.onload = () => {
      try {
        resolve(parse(xhr.response, Number(xhr.getResponseHeader('Retry-After')) || 0));
      } catch (err) {
        reject(err);
      }
    };
    xhr.onerror = () => reject(new Error('network error'));
    xhr.send(body(head, blob));
  });
}

// text decodes data as UTF-8.
export function text(data) {
  return decoder.decode(data);
}

// randomId is a random hex string of n bytes.
export function randomId(n = 16) {
  const b = crypto.getRandomValues(new Uint8Array(n));
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}
