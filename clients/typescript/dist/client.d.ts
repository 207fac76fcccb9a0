import type * as T from "./types.js";
export interface ClientOptions {
    /** The fetch to use; default the platform's globalThis.fetch. */
    fetch?: typeof fetch;
    /**
     * How many times a request answered 10009 (server busy) is sent again,
     * after the Retry-After the server gave (default 2). A 10009 means the
     * request was not handled, so sending it again is always safe.
     */
    busyRetries?: number;
    /**
     * The longest Retry-After, in seconds, the client waits by itself
     * (default 30). A longer one (a client past its rate limit) is thrown as
     * a RingdError with `retryAfter`, for the app to decide.
     */
    maxRetryAfter?: number;
    /** Extra headers on every request. */
    headers?: Record<string, string>;
}
export interface RequestOptions {
    /** Aborts the request, including a waiting long-poll. */
    signal?: AbortSignal;
}
export interface ListenOptions extends RequestOptions {
    /** Seconds each get waits for a message (default 30, at most 30). */
    wait?: number;
    /** Unix seconds: only messages after this (the seed's `after`). */
    after?: number;
    /** First back-off after a failure, in seconds (default 1). */
    minBackoff?: number;
    /** Longest back-off, in seconds (default 60). */
    maxBackoff?: number;
    /** Told of each failure the loop rides out, with the seconds it waits. */
    onError?: (err: unknown, retryIn: number) => void;
}
/** Sleeps for seconds, or until signal aborts (then rejects with its reason). */
export declare function sleep(seconds: number, signal?: AbortSignal): Promise<void>;
/**
 * A client of one ringd server. It holds no state between requests: the
 * caller keeps its numbers' uuids (their secrets) and passes them in.
 */
export declare class RingdClient {
    readonly url: string;
    private readonly fetchFn;
    private readonly busyRetries;
    private readonly maxRetryAfter;
    private readonly headers;
    constructor(url: string, options?: ClientOptions);
    /**
     * Sends one request and returns its answer's head and data (an empty
     * array when none followed). Error answers throw RingdError; a 10009 is
     * sent again after its Retry-After, up to busyRetries times.
     */
    request<A>(head: Record<string, unknown>, data?: T.Data, opt?: RequestOptions): Promise<T.WithData<A>>;
    private once;
    private head;
    /** Allocates a random free number, or the one asked for. */
    register(r?: T.RegisterRequest, opt?: RequestOptions): Promise<T.RegisterAnswer>;
    /** Binds numbers to a device (its token); uuid [] logs the device out. */
    login(r: T.LoginRequest, opt?: RequestOptions): Promise<T.LoginAnswer>;
    /** Sends a text (a string, or data without fname) or a file (with fname). */
    send(r: T.SendRequest, data: T.Data, opt?: RequestOptions): Promise<T.SendAnswer>;
    /** Sends one message to several numbers; its data is stored once. */
    sends(r: T.SendsRequest, data: T.Data, opt?: RequestOptions): Promise<T.SendsAnswer>;
    /** The undelivered messages, marked delivered; with wait, a long-poll. */
    get(r: T.GetRequest, opt?: RequestOptions): Promise<T.GetAnswer>;
    /** Every message of the window, whatever its state; marks nothing. */
    history(r: T.HistoryRequest, opt?: RequestOptions): Promise<T.HistoryAnswer>;
    /** A message's data, or the range offset..offset+limit of it. */
    fetch(r: T.FetchRequest, opt?: RequestOptions): Promise<T.WithData<T.FetchAnswer>>;
    /** A message's data as a Blob (e.g. for a download link). */
    fetchBlob(r: T.FetchRequest, opt?: RequestOptions): Promise<Blob>;
    /** The receiver marks messages read. */
    read(r: T.MsgIdsRequest, opt?: RequestOptions): Promise<T.OkAnswer>;
    /** The sender learns each message's state. */
    status(r: T.MsgIdsRequest, opt?: RequestOptions): Promise<T.StatusAnswer>;
    /** Rings the callee, with optional call data (e.g. an SDP offer, at most 64 KiB). */
    call(r: T.CallRequest, data?: T.Data, opt?: RequestOptions): Promise<T.CallAnswer>;
    /** A call's state and the other party's data; with wait, held until the state changes. */
    callinfo(r: T.CallinfoRequest, opt?: RequestOptions): Promise<T.WithData<T.CallinfoAnswer>>;
    /** The callee accepts a ringing call, with optional answer data. */
    answer(r: T.CallRef, data?: T.Data, opt?: RequestOptions): Promise<T.OkAnswer>;
    /** Either party ends a call (a callee ending a ringing call declines it). */
    hangup(r: T.CallRef, opt?: RequestOptions): Promise<T.HangupAnswer>;
    /** Starts a call with the AI service; its answer comes back as data. */
    aicall(r: T.AicallRequest, data?: T.Data, opt?: RequestOptions): Promise<T.WithData<T.AicallAnswer>>;
    /** The number's AI-call balance in seconds. */
    balance(r: {
        uuid: T.Uuid;
    }, opt?: RequestOptions): Promise<T.BalanceAnswer>;
    /** Stores the number's link data, once. */
    link(r: {
        uuid: T.Uuid;
        data: string;
    }, opt?: RequestOptions): Promise<T.OkAnswer>;
    /** The number's link data (no data when none is set). */
    linked(r: {
        uuid: T.Uuid;
    }, opt?: RequestOptions): Promise<T.LinkedAnswer>;
    /** Operator: numbers that can never be registered. */
    reserve(r: {
        auth: string;
        numbers: T.PhoneNumber[];
    }, opt?: RequestOptions): Promise<T.OkAnswer>;
    /** Operator: adds seconds to a number's AI-call balance. */
    credit(r: {
        auth: string;
        number: T.PhoneNumber;
        seconds: number;
    }, opt?: RequestOptions): Promise<T.BalanceAnswer>;
    /** Operator: counts of what the server holds. */
    stats(r: {
        auth: string;
    }, opt?: RequestOptions): Promise<T.StatsAnswer>;
    /**
     * The server's version and the request echoed, from a server in debug
     * mode (its answer is 10020, returned here, not thrown).
     */
    debug(opt?: RequestOptions): Promise<T.DebugAnswer>;
    /**
     * Receives messages as they arrive: long-polling gets, each waiting up to
     * `wait` seconds, calling onMessages with each non-empty batch (awaited
     * before the next get). It rides out transient failures (network errors,
     * 10001, 10009) with exponential back-off from minBackoff to maxBackoff
     * seconds, or the server's Retry-After when longer, and ends with the
     * error on any other (e.g. 10004, a uuid that names no number). It
     * returns when signal aborts.
     *
     * A get marks what it returns delivered: if onMessages throws, the loop
     * ends with that error and the batch is not fetched again by get (use
     * history to recover it).
     */
    listen(uuid: T.Uuid[], onMessages: (messages: T.Message[]) => void | Promise<void>, opt?: ListenOptions): Promise<void>;
}
