// The client against a real ringd: every request kind, data both ways,
// the long-poll loop, calls, errors and the 10009 Retry-After rule.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { RingdClient, RingdError, RingdTransportError, Code } from "../dist/index.js";
import { startRingd } from "./ringd.mjs";

const adminToken = "test-admin-token-" + randomBytes(8).toString("hex");
let server;
let client;
let devices = 0;

before(async () => {
  server = await startRingd(["-admin-token", adminToken]);
  client = new RingdClient(server.url);
});

after(async () => {
  await server?.stop();
});

/** Registers a number and logs it in on a device of its own. */
async function user(name) {
  const r = await client.register();
  const token = `ts-test-device-${++devices}-${randomBytes(4).toString("hex")}`;
  const l = await client.login({ appid: "web", build: "1.0", name, locale: "en", token, uuid: [r.uuid] });
  assert.deepEqual(l.numbers, [r.number]);
  return { number: r.number, uuid: r.uuid, name };
}

test("register, login, send a text, get it, read receipts", async () => {
  const alice = await user("Alice");
  const bob = await user("Bob");
  const sent = await client.send({ uuid: alice.uuid, callee: bob.number }, "hello, Bob ✓");
  assert.match(sent.msgid, /^[1-9][0-9]*$/);
  assert.equal(typeof sent.time, "number");

  const got = await client.get({ uuid: [bob.uuid] });
  assert.equal(got.messages.length, 1);
  const m = got.messages[0];
  assert.equal(m.msgid, sent.msgid);
  assert.equal(m.caller, alice.number);
  assert.equal(m.caller_name, "Alice");
  assert.equal(m.text, "hello, Bob ✓");
  assert.equal(got.more, false);

  assert.deepEqual((await client.status({ uuid: alice.uuid, msgid: [sent.msgid] })).status, { [sent.msgid]: "delivered" });
  await client.read({ uuid: bob.uuid, msgid: [sent.msgid] });
  assert.deepEqual((await client.status({ uuid: alice.uuid, msgid: [sent.msgid] })).status, { [sent.msgid]: "read" });

  const h = await client.history({ uuid: [bob.uuid] });
  assert.deepEqual(h.messages.map((x) => [x.msgid, x.state]), [[sent.msgid, "read"]]);
});

test("a file goes out and comes back byte-identical, whole and by range", async () => {
  const alice = await user("Alice");
  const bob = await user("Bob");
  const bytes = new Uint8Array(randomBytes(300 * 1024 + 17));
  const sent = await client.send({ uuid: alice.uuid, callee: bob.number, fname: "photo.bin", cid: "c-1" }, bytes);
  const [m] = (await client.get({ uuid: [bob.uuid] })).messages;
  assert.equal(m.msgid, sent.msgid);
  assert.equal(m.fname, "photo.bin");
  assert.equal(m.length, bytes.length);

  const whole = await client.fetch({ uuid: bob.uuid, msgid: m.msgid });
  assert.equal(whole.answer.total, bytes.length);
  assert.equal(whole.answer.fname, "photo.bin");
  assert.deepEqual(whole.data, bytes);

  const part = await client.fetch({ uuid: bob.uuid, msgid: m.msgid, offset: 1000, limit: 5000 });
  assert.equal(part.answer.length, 5000);
  assert.deepEqual(part.data, bytes.subarray(1000, 6000));

  // The sender may fetch it too, and as a Blob.
  const blob = await client.fetchBlob({ uuid: alice.uuid, msgid: m.msgid, offset: bytes.length - 10 });
  assert.deepEqual(new Uint8Array(await blob.arrayBuffer()), bytes.subarray(bytes.length - 10));

  // A retry with the same cid is answered the first answer, storing nothing.
  const again = await client.send({ uuid: alice.uuid, callee: bob.number, fname: "photo.bin", cid: "c-1" }, bytes);
  assert.equal(again.msgid, sent.msgid);
});

test("a Blob is sent as data", async () => {
  const alice = await user("Alice");
  const bob = await user("Bob");
  const bytes = new Uint8Array(randomBytes(5000));
  await client.send({ uuid: alice.uuid, callee: bob.number, fname: "b.bin" }, new Blob([bytes]));
  const [m] = (await client.get({ uuid: [bob.uuid] })).messages;
  assert.deepEqual((await client.fetch({ uuid: bob.uuid, msgid: m.msgid })).data, bytes);
});

test("sends reaches several numbers and names those not in use", async () => {
  const alice = await user("Alice");
  const bob = await user("Bob");
  const carol = await user("Carol");
  const idle = await client.register();
  const r = await client.sends({ uuid: alice.uuid, callees: [bob.number, carol.number, idle.number] }, "to all");
  assert.deepEqual(Object.keys(r.msgids).sort(), [bob.number, carol.number].sort());
  assert.deepEqual(r.failed, [idle.number]);
  const got = await client.get({ uuid: [bob.uuid, carol.uuid] });
  assert.deepEqual(got.messages.map((m) => m.text), ["to all", "to all"]);
  assert.equal(got.messages[0].uri, got.messages[1].uri);
});

test("the listen loop receives messages as they arrive, and stops on abort", async () => {
  const alice = await user("Alice");
  const bob = await user("Bob");
  const stop = new AbortController();
  const received = [];
  let arrived;
  const twoArrived = new Promise((resolve) => (arrived = resolve));
  const loop = client.listen([bob.uuid], (messages) => {
    received.push(...messages.map((m) => m.text));
    if (received.length >= 2) arrived();
  }, { signal: stop.signal, wait: 30 });
  await client.send({ uuid: alice.uuid, callee: bob.number }, "one");
  await new Promise((r) => setTimeout(r, 200));
  await client.send({ uuid: alice.uuid, callee: bob.number }, "two");
  await twoArrived;
  assert.deepEqual(received, ["one", "two"]);
  stop.abort();
  await loop; // returns, does not throw
});

test("the listen loop ends with a permanent error", async () => {
  const bogus = "0d5c0a4e-1b2c-4d3e-8f40-123456789abc";
  await assert.rejects(client.listen([bogus], () => {}), (err) => err instanceof RingdError && err.code === Code.UUIDError);
});

test("the listen loop backs off on transient failures", async () => {
  const dead = await startRingd();
  const url = dead.url;
  await dead.stop(); // nothing listens there now: every get fails in transport
  const c = new RingdClient(url);
  const pauses = [];
  const stop = new AbortController();
  await c.listen(["0d5c0a4e-1b2c-4d3e-8f40-123456789abc"], () => {}, {
    signal: stop.signal,
    minBackoff: 0.02,
    maxBackoff: 0.08,
    onError(err, pause) {
      assert.ok(err instanceof RingdTransportError, String(err));
      pauses.push(pause);
      if (pauses.length === 5) stop.abort();
    },
  });
  assert.equal(pauses.length, 5);
  // Each pause is the back-off with jitter (half to all of it), which
  // doubles from minBackoff and stops at maxBackoff.
  const backoffs = [0.02, 0.04, 0.08, 0.08, 0.08];
  pauses.forEach((p, i) => assert.ok(p >= backoffs[i] / 2 && p <= backoffs[i], `pause ${i}: ${p}`));
});

test("calls: ring, answer with data, hang up; a cancelled call is missed", async () => {
  const alice = await user("Alice");
  const bob = await user("Bob");
  const offer = "v=0 offer from alice";
  const { callid } = await client.call({ uuid: alice.uuid, callee: bob.number, caller_name: "Ally" }, offer);
  assert.match(callid, /^[0-9a-f]{32}$/);

  const ringing = await client.callinfo({ uuid: bob.uuid, callid });
  assert.equal(ringing.answer.state, "ringing");
  assert.equal(ringing.answer.caller, alice.number);
  assert.equal(ringing.answer.caller_name, "Ally");
  assert.equal(new TextDecoder().decode(ringing.data), offer);

  // The caller waits for the state to change while the callee answers.
  const waiting = client.callinfo({ uuid: alice.uuid, callid, wait: 10 });
  await client.answer({ uuid: bob.uuid, callid }, new Uint8Array([1, 2, 3]));
  const answered = await waiting;
  assert.equal(answered.answer.state, "answered");
  assert.deepEqual(answered.data, new Uint8Array([1, 2, 3]));

  const ended = await client.hangup({ uuid: alice.uuid, callid });
  assert.deepEqual([ended.state, ended.reason], ["ended", "hangup"]);
  await assert.rejects(client.hangup({ uuid: bob.uuid, callid }), (err) => err.code === Code.CallIDError && err.text === "callid error");

  const second = await client.call({ uuid: alice.uuid, callee: bob.number });
  const cancelled = await client.hangup({ uuid: alice.uuid, callid: second.callid });
  assert.equal(cancelled.reason, "cancelled");
  const [missed] = (await client.get({ uuid: [bob.uuid] })).messages;
  assert.equal(missed.uri, "missed.call");
  assert.equal(missed.length, 0);
  assert.equal(missed.callid, second.callid);
});

test("link, linked, balance and the operator requests", async () => {
  const alice = await user("Alice");
  assert.deepEqual(await client.linked({ uuid: alice.uuid }), { answer: 10000 });
  await client.link({ uuid: alice.uuid, data: "https://example.com/alice" });
  assert.equal((await client.linked({ uuid: alice.uuid })).data, "https://example.com/alice");
  await assert.rejects(client.link({ uuid: alice.uuid, data: "again" }), (err) => err.code === Code.LinkDataExisted);

  assert.equal((await client.balance({ uuid: alice.uuid })).balance, 0);
  assert.equal((await client.credit({ auth: adminToken, number: alice.number, seconds: 600 })).balance, 600);
  assert.equal((await client.balance({ uuid: alice.uuid })).balance, 600);
  await client.reserve({ auth: adminToken, numbers: ["5550123"] });
  await assert.rejects(client.register({ number: "5550123" }), (err) => err.code === Code.NumberNotAvailable);
  const stats = await client.stats({ auth: adminToken });
  assert.ok(stats.numbers >= 1 && stats.in_use >= 1, JSON.stringify(stats));
  // No AI service is configured.
  await assert.rejects(client.aicall({ uuid: alice.uuid }), (err) => err.code === Code.ServiceNotAvailable);
});

test("error answers carry code, text and detail", async () => {
  await assert.rejects(client.stats({ auth: "wrong" }), (err) => {
    assert.ok(err instanceof RingdError);
    assert.equal(err.code, Code.AuthError);
    assert.equal(err.text, "auth error");
    assert.equal(err.req, "stats");
    return true;
  });
  await assert.rejects(client.register({ number: "12" }), (err) => err.code === Code.FormatError && err.text === "format error");
  const bogus = "0d5c0a4e-1b2c-4d3e-8f40-123456789abc";
  await assert.rejects(client.send({ uuid: bogus, callee: "1002" }, "hi"), (err) => {
    assert.equal(err.code, Code.UUIDError);
    assert.equal(err.text, "uuid error");
    assert.ok(err.detail === undefined || typeof err.detail === "string");
    assert.match(err.message, /uuid error \(10004\)/);
    return true;
  });
});

test("10009: Retry-After is reported, and waited for when retrying", async () => {
  // One register at once, then one more every 2 seconds; loopback is
  // not exempt from the limit here.
  const busy = await startRingd(["-register-rate", "1/2s", "-rate-exempt", "none"]);
  try {
    const noRetry = new RingdClient(busy.url, { busyRetries: 0 });
    await noRetry.register();
    let retryAfter;
    await assert.rejects(noRetry.register(), (err) => {
      assert.ok(err instanceof RingdError);
      assert.equal(err.code, Code.ServerBusy);
      assert.equal(err.text, "server busy, try again");
      assert.ok(err.retryAfter >= 1 && err.retryAfter <= 2, `retryAfter ${err.retryAfter}`);
      retryAfter = err.retryAfter;
      return true;
    });
    // A client that retries waits the Retry-After and is then served.
    const start = Date.now();
    const r = await new RingdClient(busy.url, { busyRetries: 3 }).register();
    assert.match(r.number, /^[0-9]{3,15}$/);
    assert.ok(Date.now() - start >= (retryAfter - 1) * 1000);
    // A Retry-After longer than the client will wait is thrown at once.
    await assert.rejects(new RingdClient(busy.url, { busyRetries: 3, maxRetryAfter: 0.5 }).register(),
      (err) => err.code === Code.ServerBusy && err.retryAfter >= 1);
  } finally {
    await busy.stop();
  }
});
