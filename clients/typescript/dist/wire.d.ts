import type { Data } from "./types.js";
/** UTF-8 bytes of s. */
export declare function utf8(s: string): Uint8Array;
/**
 * Text of UTF-8 bytes. TextDecoder where the platform has it; otherwise
 * (older React Native engines) a small decoder of well-formed UTF-8, which
 * is all a server's JSON holds.
 */
export declare function fromUtf8(b: Uint8Array): string;
/** Bytes of a Data that is not a Blob. */
export declare function bytesOf(d: Exclude<Data, Blob>): Uint8Array;
/** Whether d is a Blob (or a File), on platforms that have Blob. */
export declare function isBlob(d: Data): d is Blob;
/** The length in bytes of d. */
export declare function dataLength(d: Data): number;
/**
 * A request body: head, and when data is given a NUL and the data. A Blob
 * stays a Blob (a browser sends a File without reading it into memory);
 * other data is one Uint8Array.
 */
export declare function encodeBody(head: Record<string, unknown>, data?: Data): Uint8Array | Blob;
/** Splits an answer at its first NUL: JSON never holds a raw NUL. */
export declare function splitAnswer(b: Uint8Array): {
    head: Uint8Array;
    data?: Uint8Array;
};
