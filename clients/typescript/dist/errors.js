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
};
/**
 * An error answer: the server said no. `code` decides what a program does;
 * `text` is the seed's fixed English text; `detail`, when the server sends
 * one, says for people what was wrong. Transport failures (no connection,
 * a body that is not a ringd answer) are other errors, so a caller can tell
 * "the server refused" from "the server could not be asked".
 */
export class RingdError extends Error {
    constructor(req, raw, retryAfter) {
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
    constructor(req, message, options) {
        super(`ringd ${req}: ${message}`);
        this.name = "RingdTransportError";
        this.req = req;
        if (options && "cause" in options) {
            this.cause = options.cause;
        }
    }
}
/**
 * Reads a Retry-After header: delay-seconds or an HTTP date, as seconds
 * from now (undefined when absent or unreadable).
 */
export function parseRetryAfter(v, now = Date.now()) {
    if (v === null)
        return undefined;
    v = v.trim();
    if (/^[0-9]+$/.test(v))
        return Number(v);
    const t = Date.parse(v);
    if (Number.isNaN(t))
        return undefined;
    return Math.max(0, Math.ceil((t - now) / 1000));
}
