// Error answers, and the codes of docs/API.md section 4.

/** The protocol's answer codes (the seed's numbers). */
export const Code = {
  OK: 10000,
  ServerError: 10001,
  FormatError: 10002,
  NumberNotAvailable: 10003,
  UUIDError: 10004,
  LinkDataExisted: 10005,
  ServerBusy: 10009,
  CallerNotInUse: 10010,
  CalleeNotInUse: 10011,
  CallIDError: 10012,
  MsgIDError: 10013,
  Debug: 10020,
  ServiceNotAvailable: 10031,
  BalanceNotEnough: 10032,
  AuthError: 10061,
} as const;

/**
 * An error answer: the server said no. `code` decides what a program does;
 * `text` is the seed's fixed English text; `detail`, when the server sends
 * one, says for people what was wrong. Transport failures (no connection,
 * a body that is not a ringd answer) are other errors, so a caller can tell
 * "the server refused" from "the server could not be asked".
 */
export class RingdError extends Error {
  readonly code: number;
  readonly text: string;
  readonly detail?: string;
  /** For 10009: seconds the server asked to wait (Retry-After); else undefined. */
  readonly retryAfter?: number;
  /** The request's req. */
  readonly req: string;
  /** The whole JSON answer. */
  readonly raw: Record<string, unknown>;

  constructor(req: string, raw: Record<string, unknown>, retryAfter?: number) {
    const code = typeof raw.answer === "number" ? raw.answer : 0;
    const text = typeof raw.error === "string" ? raw.error : "";
    const detail = typeof raw.detail === "string" ? raw.detail : undefined;
    super(`ringd ${req}: ${text} (${code})${detail ? ": " + detail : ""}`);
    this.name = "RingdError";
    this.code = code;
    this.text = text;
    this.detail = detail;
    this.retryAfter = retryAfter;
    this.req = req;
    this.raw = raw;
  }
}

/**
 * A transport failure: the request may or may not have reached the server
 * (a network error, an answer that is not a ringd answer).
 */
export class RingdTransportError extends Error {
  readonly req: string;
  constructor(req: string, message: string, options?: { cause?: unknown }) {
    super(`ringd ${req}: ${message}`);
    this.name = "RingdTransportError";
    this.req = req;
    if (options && "cause" in options) {
      (this as { cause?: unknown }).cause = options.cause;
    }
  }
}

/**
 * Reads a Retry-After header: delay-seconds or an HTTP date, as seconds
 * from now (undefined when absent or unreadable).
 */
export function parseRetryAfter(v: string | null, now: number = Date.now()): number | undefined {
  if (v === null) return undefined;
  v = v.trim();
  if (/^[0-9]+$/.test(v)) return Number(v);
  const t = Date.parse(v);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, Math.ceil((t - now) / 1000));
}
