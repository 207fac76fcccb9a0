/** The protocol's answer codes (the seed's numbers). */
export declare const Code: {
    readonly OK: 10000;
    readonly ServerError: 10001;
    readonly FormatError: 10002;
    readonly NumberNotAvailable: 10003;
    readonly UUIDError: 10004;
    readonly LinkDataExisted: 10005;
    readonly ServerBusy: 10009;
    readonly CallerNotInUse: 10010;
    readonly CalleeNotInUse: 10011;
    readonly CallIDError: 10012;
    readonly MsgIDError: 10013;
    readonly Debug: 10020;
    readonly ServiceNotAvailable: 10031;
    readonly BalanceNotEnough: 10032;
    readonly AuthError: 10061;
};
/**
 * An error answer: the server said no. `code` decides what a program does;
 * `text` is the seed's fixed English text; `detail`, when the server sends
 * one, says for people what was wrong. Transport failures (no connection,
 * a body that is not a ringd answer) are other errors, so a caller can tell
 * "the server refused" from "the server could not be asked".
 */
export declare class RingdError extends Error {
    readonly code: number;
    readonly text: string;
    readonly detail?: string;
    /** For 10009: seconds the server asked to wait (Retry-After); else undefined. */
    readonly retryAfter?: number;
    /** The request's req. */
    readonly req: string;
    /** The whole JSON answer. */
    readonly raw: Record<string, unknown>;
    constructor(req: string, raw: Record<string, unknown>, retryAfter?: number);
}
/**
 * A transport failure: the request may or may not have reached the server
 * (a network error, an answer that is not a ringd answer).
 */
export declare class RingdTransportError extends Error {
    readonly req: string;
    constructor(req: string, message: string, options?: {
        cause?: unknown;
    });
}
/**
 * Reads a Retry-After header: delay-seconds or an HTTP date, as seconds
 * from now (undefined when absent or unreadable).
 */
export declare function parseRetryAfter(v: string | null, now?: number): number | undefined;
