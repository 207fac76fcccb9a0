// The body format: a JSON head, then for data one NUL and exactly `length`
// bytes. Only platform APIs that browsers, Node.js 20 and React Native
// (Hermes) all have: Uint8Array, Blob, TextEncoder.
const encoder = new TextEncoder();
/** UTF-8 bytes of s. */
export function utf8(s) {
    return encoder.encode(s);
}
/**
 * Text of UTF-8 bytes. TextDecoder where the platform has it; otherwise
 * (older React Native engines) a small decoder of well-formed UTF-8, which
 * is all a server's JSON holds.
 */
export function fromUtf8(b) {
    if (typeof TextDecoder !== "undefined") {
        return new TextDecoder().decode(b);
    }
    let out = "";
    for (let i = 0; i < b.length;) {
        const c = b[i++];
        let cp = c;
        if (c >= 0xf0) {
            cp = ((c & 0x07) << 18) | ((b[i++] & 0x3f) << 12) | ((b[i++] & 0x3f) << 6) | (b[i++] & 0x3f);
        }
        else if (c >= 0xe0) {
            cp = ((c & 0x0f) << 12) | ((b[i++] & 0x3f) << 6) | (b[i++] & 0x3f);
        }
        else if (c >= 0xc0) {
            cp = ((c & 0x1f) << 6) | (b[i++] & 0x3f);
        }
        out += String.fromCodePoint(cp);
    }
    return out;
}
/** Bytes of a Data that is not a Blob. */
export function bytesOf(d) {
    if (typeof d === "string")
        return utf8(d);
    if (d instanceof Uint8Array)
        return d;
    return new Uint8Array(d);
}
/** Whether d is a Blob (or a File), on platforms that have Blob. */
export function isBlob(d) {
    return typeof Blob !== "undefined" && d instanceof Blob;
}
/** The length in bytes of d. */
export function dataLength(d) {
    return isBlob(d) ? d.size : bytesOf(d).length;
}
/**
 * A request body: head, and when data is given a NUL and the data. A Blob
 * stays a Blob (a browser sends a File without reading it into memory);
 * other data is one Uint8Array.
 */
export function encodeBody(head, data) {
    const h = utf8(JSON.stringify(head));
    if (data === undefined)
        return h;
    if (isBlob(data)) {
        return new Blob([h, new Uint8Array([0]), data]);
    }
    const d = bytesOf(data);
    const body = new Uint8Array(h.length + 1 + d.length);
    body.set(h, 0);
    body[h.length] = 0;
    body.set(d, h.length + 1);
    return body;
}
/** Splits an answer at its first NUL: JSON never holds a raw NUL. */
export function splitAnswer(b) {
    const i = b.indexOf(0);
    if (i < 0)
        return { head: b };
    return { head: b.subarray(0, i), data: b.subarray(i + 1) };
}
