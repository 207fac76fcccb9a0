// The protocol's requests and answers, as docs/schema/ringd.schema.json
// describes them. Request types hold the fields a caller sets; `req` and
// `length` are added by the client.

/** A phone number: 3 to 15 ASCII digits. */
export type PhoneNumber = string;
/** A number's secret: a version-4 UUID. Never log it. */
export type Uuid = string;
/** A message id: a decimal string. */
export type MsgId = string;
/** A call id: 32 lowercase hex characters. */
export type CallId = string;

/** Data sent after the NUL: a text, bytes, or a Blob (a File in a browser). */
export type Data = string | Uint8Array | ArrayBuffer | Blob;

export interface RegisterRequest {
  /** The number wanted; a random free one when absent. */
  number?: PhoneNumber;
  /** The server's -register-key, when it has one. */
  auth?: string;
}
export interface RegisterAnswer {
  answer: 10000;
  number: PhoneNumber;
  uuid: Uuid;
}

export interface LoginRequest {
  /** 2-32 characters. */
  appid: string;
  /** 2-16 characters. */
  build: string;
  /** The display name, 2-32 characters. */
  name: string;
  /** 2-6 characters, e.g. "en_US". */
  locale: string;
  /** The push token (or any stable device id), 8-228 characters. */
  token: string;
  /** The uuids of the numbers to bind; [] logs the device out. */
  uuid: Uuid[];
}
export interface LoginAnswer {
  answer: 10000;
  numbers: PhoneNumber[];
}

export interface SendOptions {
  /** 2-32 characters; default the sender's name from its last login. */
  caller_name?: string;
  /** 2-100 characters, no control characters, no / or \. Absent: the data is a text. */
  fname?: string;
  /** 1-64 characters: the client's id for this message, so a retry stores nothing twice. */
  cid?: string;
}
export interface SendRequest extends SendOptions {
  uuid: Uuid;
  callee: PhoneNumber;
}
export interface SendsRequest extends SendOptions {
  uuid: Uuid;
  callees: PhoneNumber[];
}
export interface SendAnswer {
  answer: 10000;
  msgid: MsgId;
  time: number;
}
export interface SendsAnswer {
  answer: 10000;
  time: number;
  msgids: Record<PhoneNumber, MsgId>;
  /** The callees not in use; absent when empty. */
  failed?: PhoneNumber[];
}

export interface GetRequest {
  uuid: Uuid[];
  /** Unix seconds: only messages after this (never older than one day). */
  after?: number;
  /** Seconds (0-30) to hold an empty answer: a long-poll. */
  wait?: number;
}
export interface HistoryRequest {
  uuid: Uuid[];
  after?: number;
  /** Only messages after this msgid: page with the last one received. */
  after_msgid?: MsgId;
}
export interface Message {
  msgid: MsgId;
  caller: PhoneNumber;
  caller_name: string;
  callee: PhoneNumber;
  time: number;
  /** The data's name; "missed.call" for a missed-call notice. */
  uri: string;
  length: number;
  /** Present for a file. */
  fname?: string;
  /** Present for a text of at most 4096 bytes. */
  text?: string;
  /** Present for a missed call. */
  callid?: CallId;
}
export type MessageState = "sent" | "delivered" | "read";
export interface HistoryMessage extends Message {
  state: MessageState;
}
export interface GetAnswer {
  answer: 10000;
  messages: Message[];
  more: boolean;
}
export interface HistoryAnswer {
  answer: 10000;
  messages: HistoryMessage[];
  more: boolean;
}

export interface FetchRequest {
  uuid: Uuid;
  msgid: MsgId;
  /** Start of the range, default 0. */
  offset?: number;
  /** Bytes of the range, default to the end. */
  limit?: number;
}
export interface FetchAnswer {
  answer: 10000;
  /** Bytes in `data`. */
  length: number;
  /** The whole data's length. */
  total: number;
  fname?: string;
}

export interface MsgIdsRequest {
  uuid: Uuid;
  msgid: MsgId[];
}
export interface StatusAnswer {
  answer: 10000;
  status: Record<MsgId, MessageState>;
}
export interface OkAnswer {
  answer: 10000;
}

export interface CallRequest {
  uuid: Uuid;
  callee: PhoneNumber;
  caller_name?: string;
}
export interface CallAnswer {
  answer: 10000;
  callid: CallId;
}
export interface CallRef {
  uuid: Uuid;
  callid: CallId;
}
export interface CallinfoRequest extends CallRef {
  /** Seconds (0-30) to hold the answer until the call's state changes. */
  wait?: number;
}
export type CallState = "ringing" | "answered" | "ended";
export type CallEndReason = "cancelled" | "declined" | "timeout" | "hangup";
export interface CallinfoAnswer {
  answer: 10000;
  callid: CallId;
  caller: PhoneNumber;
  caller_name: string;
  /** "" for an AI call. */
  callee: PhoneNumber | "";
  ai?: true;
  state: CallState;
  reason?: CallEndReason;
  time: number;
  answer_time?: number;
  end_time?: number;
  /** Bytes of the other party's data. */
  length: number;
}
export interface HangupAnswer {
  answer: 10000;
  state: "ended";
  reason: CallEndReason;
  /** AI call: seconds charged. */
  seconds?: number;
  /** AI call: the balance left. */
  balance?: number;
}
export interface AicallRequest {
  uuid: Uuid;
  caller_name?: string;
}
export interface AicallAnswer {
  answer: 10000;
  callid: CallId;
  length: number;
}
export interface BalanceAnswer {
  answer: 10000;
  balance: number;
}
export interface LinkedAnswer {
  answer: 10000;
  data?: string;
}
export interface StatsAnswer {
  answer: 10000;
  numbers: number;
  in_use: number;
  devices: number;
  messages: number;
  calls: number;
  bytes: number;
}
export interface DebugAnswer {
  answer: 10020;
  error: "debug";
  version: string;
  request: Record<string, unknown>;
}

/** An answer's JSON head and the data that followed its NUL. */
export interface WithData<A> {
  answer: A;
  data: Uint8Array;
}
