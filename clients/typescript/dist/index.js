// @ringd/client: a typed client of the ringd protocol (docs/API.md), for
// browsers, Node.js 20 and React Native, with no dependency beyond the
// platform's fetch.
export { RingdClient, sleep } from "./client.js";
export { Code, RingdError, RingdTransportError, parseRetryAfter } from "./errors.js";
export { encodeBody, splitAnswer } from "./wire.js";
