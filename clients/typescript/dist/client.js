import { Code, RingdError, RingdTransportError, parseRetryAfter } from "./errors.js";
import { dataLength, encodeBody, fromUtf8, isBlob, splitAnswer } from "./wire.js";
/** Sleeps for seconds, or until signal aborts (then rejects with its reason). */
export function sleep(seconds, signal) {
    return new Promise((resolve, reject) => {
        if (signal?.aborted) {
            reject(signal.reason);
            return;
        }
        const onAbort = () => {
            clearTimeout(timer);
            reject(signal.reason);
        };
        const timer = setTimeout(() => {
            signal?.removeEventListener("abort", onAbort);
            resolve();
        }, seconds * 1000);
        signal?.addEventListener("abort", onAbort, { once: true });
    });
}
/**
 * The request body. React Native's Blob cannot be built from bytes, so
 * there a Blob's data is read and sent as bytes instead.
 */
async function bodyOf(head, data) {
    try {
        return encodeBody(head, data);
    }
    catch (err) {
        if (data === undefined || !isBlob(data) || typeof data.arrayBuffer !== "function")
            throw err;
        return encodeBody(head, new Uint8Array(await data.arrayBuffer()));
    }
}
/** Failures a long-poll loop waits out; others (a bad uuid, a bad request) end it. */
function transient(err) {
    if (err instanceof RingdError) {
        return err.code === Code.ServerBusy || err.code === Code.ServerError;
    }
    return err instanceof RingdTransportError;
}
/**
 * A client of one ringd server. It holds no state between requests: the
 * caller keeps its numbers' uuids (their secrets) and passes them in.
 */
export class RingdClient {
    constructor(url, options = {}) {
        this.url = url;
        // Bound to globalThis: browsers refuse a fetch called on another object.
        this.fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
        this.busyRetries = options.busyRetries ?? 2;
        this.maxRetryAfter = options.maxRetryAfter ?? 30;
        this.headers = options.headers ?? {};
    }
    /**
     * Sends one request and returns its answer's head and data (an empty
     * array when none followed). Error answers throw RingdError; a 10009 is
     * sent again after its Retry-After, up to busyRetries times.
     */
    async request(head, data, opt = {}) {
        const req = String(head.req);
        if (data !== undefined)
            head = { ...head, length: dataLength(data) };
        const body = await bodyOf(head, data);
        for (let attempt = 0;; attempt++) {
            try {
                return await this.once(req, body, opt.signal);
            }
            catch (err) {
                if (!(err instanceof RingdError) || err.code !== Code.ServerBusy || attempt >= this.busyRetries)
                    throw err;
                const wait = err.retryAfter ?? 1;
                if (wait > this.maxRetryAfter)
                    throw err;
                await sleep(wait, opt.signal);
            }
        }
    }
    async once(req, body, signal) {
        let res;
        try {
            res = await this.fetchFn(this.url, {
                method: "POST",
                headers: { "Content-Type": "application/octet-stream", ...this.headers },
                body: body,
                signal,
            });
        }
        catch (err) {
            if (signal?.aborted)
                throw err;
            throw new RingdTransportError(req, String(err), { cause: err });
        }
        let raw;
        try {
            raw = new Uint8Array(await res.arrayBuffer());
        }
        catch (err) {
            if (signal?.aborted)
                throw err;
            throw new RingdTransportError(req, "reading the answer: " + String(err), { cause: err });
        }
        const { head, data } = splitAnswer(raw);
        let json;
        try {
            json = JSON.parse(fromUtf8(head));
        }
        catch {
            json = undefined;
        }
        if (typeof json !== "object" || json === null || typeof json.answer !== "number") {
            throw new RingdTransportError(req, `HTTP ${res.status}: not a ringd answer: ${fromUtf8(head.subarray(0, 200))}`);
        }
        const answer = json;
        if (answer.answer !== Code.OK) {
            const retryAfter = answer.answer === Code.ServerBusy ? parseRetryAfter(res.headers.get("Retry-After")) : undefined;
            throw new RingdError(req, answer, retryAfter);
        }
        if (typeof answer.length === "number" && data !== undefined && data.length !== answer.length) {
            throw new RingdTransportError(req, `answer data is ${data.length} bytes, its length says ${answer.length}`);
        }
        return { answer: answer, data: data ?? new Uint8Array(0) };
    }
    async head(head, opt, data) {
        return (await this.request(head, data, opt)).answer;
    }
    /** Allocates a random free number, or the one asked for. */
    register(r = {}, opt) {
        return this.head({ req: "register", ...r }, opt);
    }
    /** Binds numbers to a device (its token); uuid [] logs the device out. */
    login(r, opt) {
        return this.head({ req: "login", ...r }, opt);
    }
    /** Sends a text (a string, or data without fname) or a file (with fname). */
    send(r, data, opt) {
        return this.head({ req: "send", ...r }, opt, data);
    }
    /** Sends one message to several numbers; its data is stored once. */
    sends(r, data, opt) {
        return this.head({ req: "sends", ...r }, opt, data);
    }
    /** The undelivered messages, marked delivered; with wait, a long-poll. */
    get(r, opt) {
        return this.head({ req: "get", ...r }, opt);
    }
    /** Every message of the window, whatever its state; marks nothing. */
    history(r, opt) {
        return this.head({ req: "history", ...r }, opt);
    }
    /** A message's data, or the range offset..offset+limit of it. */
    fetch(r, opt) {
        return this.request({ req: "fetch", ...r }, undefined, opt);
    }
    /** A message's data as a Blob (e.g. for a download link). */
    async fetchBlob(r, opt) {
        const { data } = await this.fetch(r, opt);
        return new Blob([data]);
    }
    /** The receiver marks messages read. */
    read(r, opt) {
        return this.head({ req: "read", ...r }, opt);
    }
    /** The sender learns each message's state. */
    status(r, opt) {
        return this.head({ req: "status", ...r }, opt);
    }
    /** Rings the callee, with optional call data (e.g. an SDP offer, at most 64 KiB). */
    call(r, data, opt) {
        return this.head({ req: "call", ...r }, opt, data);
    }
    /** A call's state and the other party's data; with wait, held until the state changes. */
    callinfo(r, opt) {
        return this.request({ req: "callinfo", ...r }, undefined, opt);
    }
    /** The callee accepts a ringing call, with optional answer data. */
    answer(r, data, opt) {
        return this.head({ req: "answer", ...r }, opt, data);
    }
    /** Either party ends a call (a callee ending a ringing call declines it). */
    hangup(r, opt) {
        return this.head({ req: "hangup", ...r }, opt);
    }
    /** Starts a call with the AI service; its answer comes back as data. */
    aicall(r, data, opt) {
        return this.request({ req: "aicall", ...r }, data, opt);
    }
    /** The number's AI-call balance in seconds. */
    balance(r, opt) {
        return this.head({ req: "balance", ...r }, opt);
    }
    /** Stores the number's link data, once. */
    link(r, opt) {
        return this.head({ req: "link", ...r }, opt);
    }
    /** The number's link data (no data when none is set). */
    linked(r, opt) {
        return this.head({ req: "linked", ...r }, opt);
    }
    /** Operator: numbers that can never be registered. */
    reserve(r, opt) {
        return this.head({ req: "reserve", ...r }, opt);
    }
    /** Operator: adds seconds to a number's AI-call balance. */
    credit(r, opt) {
        return this.head({ req: "credit", ...r }, opt);
    }
    /** Operator: counts of what the server holds. */
    stats(r, opt) {
        return this.head({ req: "stats", ...r }, opt);
    }
    /**
     * The server's version and the request echoed, from a server in debug
     * mode (its answer is 10020, returned here, not thrown).
     */
    async debug(opt) {
        try {
            await this.request({ req: "debug" }, undefined, opt);
        }
        catch (err) {
            if (err instanceof RingdError && err.code === Code.Debug)
                return err.raw;
            throw err;
        }
        throw new RingdTransportError("debug", "success answer to debug");
    }
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
    async listen(uuid, onMessages, opt = {}) {
        const wait = Math.min(opt.wait ?? 30, 30);
        const min = opt.minBackoff ?? 1;
        const max = opt.maxBackoff ?? 60;
        let backoff = min;
        while (!opt.signal?.aborted) {
            let got;
            try {
                got = await this.get({ uuid, wait, after: opt.after }, { signal: opt.signal });
            }
            catch (err) {
                if (opt.signal?.aborted)
                    return;
                if (!transient(err))
                    throw err;
                const retryAfter = err instanceof RingdError ? (err.retryAfter ?? 0) : 0;
                // Jitter spreads clients that failed together.
                const pause = Math.max(backoff * (0.5 + Math.random() / 2), retryAfter);
                opt.onError?.(err, pause);
                try {
                    await sleep(pause, opt.signal);
                }
                catch {
                    return;
                }
                backoff = Math.min(backoff * 2, max);
                continue;
            }
            backoff = min;
            if (got.messages.length > 0)
                await onMessages(got.messages);
        }
    }
}
