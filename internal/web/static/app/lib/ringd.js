// The pages' link to the protocol: the TypeScript client (clients/
// typescript, served compiled at lib/client/), one client of the server
// that served the page, and what the client does not do itself: an upload
// that reports its progress, and the requests it has no method for.

import { RingdClient, RingdError, encodeBody, splitAnswer, parseRetryAfter } from './client/index.js';

export { RingdError };

const decoder = new TextDecoder();

// client speaks to the server that served the page.
export const client = new RingdClient(new URL('/', location.href).href);

// request sends a request the client has no method for (lookup, counters,
// incoming) and returns its answer.
export async function request(head, { signal } = {}) {
  return (await client.request(head, undefined, { signal })).answer;
}

// upload sends a request whose data is a Blob (a File), reporting
// progress as onProgress(sentBytes, totalBytes): fetch cannot tell how
// much of a body has gone, XMLHttpRequest can.
export function upload(head, blob, onProgress) {
  const body = encodeBody({ ...head, length: blob.size }, blob);
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', client.url);
    xhr.responseType = 'arraybuffer';
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.onprogress = (e) => { if (e.lengthComputable) onProgress(e.loaded, e.total); };
    xhr.onload = () => {
      try {
        const answer = JSON.parse(decoder.decode(splitAnswer(new Uint8Array(xhr.response)).head));
        if (answer.answer !== 10000) {
          throw new RingdError(head.req, answer, parseRetryAfter(xhr.getResponseHeader('Retry-After')));
        }
        resolve(answer);
      } catch (err) {
        reject(err);
      }
    };
    xhr.onerror = () => reject(new Error('network error'));
    xhr.send(body);
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
