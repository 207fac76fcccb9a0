export { RingdClient, sleep } from "./client.js";
export type { ClientOptions, ListenOptions, RequestOptions } from "./client.js";
export { Code, RingdError, RingdTransportError, parseRetryAfter } from "./errors.js";
export { encodeBody, splitAnswer } from "./wire.js";
export type * from "./types.js";
