// The web client: a number's conversations, files and calls, in one tab.
// Its account (number and uuid) is kept in localStorage, with the
// messages it has seen; new ones come through get's long-poll, ringing
// calls through incoming's.

import { client, request, upload, text, randomId, RingdError } from './lib/ringd.js';
import { t, errorText, applyStrings, bytes } from './lib/strings.js';

const APPID = 'web';
const BUILD = '1.0';
const WAIT = 25; // seconds a long-poll is held
const KEEP = 300; // messages kept per conversation

const $ = (id) => document.getElementById(id);

// The account and the device token live in localStorage: the token is a
// random id this browser made once, the push token the protocol asks for
// (a browser gets no push; it long-polls).
const saved = {
  get account() { return JSON.parse(localStorage.getItem('ringd.account') || 'null'); },
  set account(a) {
    if (a) localStorage.setItem('ringd.account', JSON.stringify(a));
    else localStorage.removeItem('ringd.account');
  },
  get token() {
    let tok = localStorage.getItem('ringd.token');
    if (!tok) {
      tok = `web-${randomId(16)}`;
      localStorage.setItem('ringd.token', tok);
    }
    return tok;
  },
  messages(number) { return JSON.parse(localStorage.getItem(`ringd.messages.${number}`) || '[]'); },
  setMessages(number, list) { localStorage.setItem(`ringd.messages.${number}`, JSON.stringify(list)); },
};

let account = null; // {number, uuid, name}
let messages = []; // {key, id, peer, mine, time, kind: text|file|missed, body, fname, length, state, name}
let current = null; // the peer whose conversation is open
let running = null; // AbortController of the long-polls

// ---- Signing in ----

function locale() {
  return (navigator.language || 'en').replace('-', '_').slice(0, 6);
}

async function login(uuid, name) {
  const a = await client.login({ appid: APPID, build: BUILD, name, locale: locale(), token: saved.token, uuid: [uuid] });
  return a.numbers[0];
}

function validName() {
  const name = $('name').value.trim() || (account && account.name) || '';
  if ([...name].length < 2 || [...name].length > 32) {
    $('welcome-error').textContent = t('nameInvalid');
    return null;
  }
  return name;
}

async function onRegister() {
  const name = validName();
  if (!name) return;
  const wanted = $('wanted').value.trim();
  if (wanted && !/^[0-9]{3,15}$/.test(wanted)) {
    $('welcome-error').textContent = t('numberInvalid');
    return;
  }
  await busy($('register'), async () => {
    const r = await client.register(wanted ? { number: wanted } : {});
    await login(r.uuid, name);
    begin({ number: r.number, uuid: r.uuid, name });
  }, $('welcome-error'));
}

async function onLogin() {
  const name = validName();
  if (!name) return;
  const uuid = $('uuid-in').value.trim().toLowerCase();
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(uuid)) {
    $('welcome-error').textContent = t('uuidInvalid');
    return;
  }
  await busy($('login'), async () => {
    const number = await login(uuid, name);
    begin({ number, uuid, name });
    recoverHistory();
  }, $('welcome-error'));
}

// recoverHistory adds the last day's messages to the number, those other
// devices have fetched too, for a browser that logs in with a uuid:
// history marks nothing, and get's own copies are the same messages.
async function recoverHistory() {
  const number = account.number;
  let after;
  try {
    for (let page = 0; page < 20; page++) {
      const a = await client.history({ uuid: [account.uuid], ...(after ? { after_msgid: after } : {}) });
      if (!account || account.number !== number) return;
      for (const m of a.messages) {
        const ours = await fromGet(m);
        ours.read = m.state === 'read';
        addMessage(ours);
      }
      if (!a.more || a.messages.length === 0) break;
      after = a.messages[a.messages.length - 1].msgid;
    }
  } catch { /* what get brings still comes */ }
  save();
  renderConversations();
  if (current) renderThread();
}

async function onLogout() {
  const uuid = account.uuid;
  stop();
  saved.account = null;
  try {
    // Unbinds this browser's token: the number is no longer in use here.
    await client.login({ appid: APPID, build: BUILD, name: account.name, locale: locale(), token: saved.token, uuid: [] });
  } catch { /* the account is forgotten here either way */ }
  localStorage.removeItem(`ringd.messages.${account.number}`);
  account = null;
  showWelcome(uuid);
}

// busy disables button while fn runs and shows its error in where.
async function busy(button, fn, where) {
  button.disabled = true;
  where.textContent = '';
  try {
    await fn();
  } catch (err) {
    where.textContent = errorText(err);
  } finally {
    button.disabled = false;
  }
}

function showWelcome(lastUuid) {
  $('chat').hidden = true;
  $('welcome').hidden = false;
  $('logout').hidden = true;
  $('me').textContent = '';
  $('status').textContent = '';
  if (lastUuid) $('uuid-in').value = '';
}

function begin(a) {
  account = a;
  saved.account = a;
  messages = saved.messages(a.number);
  $('welcome').hidden = true;
  $('chat').hidden = false;
  $('logout').hidden = false;
  $('me').textContent = a.name ? `${a.name} · ${a.number}` : a.number;
  $('my-uuid').textContent = a.uuid;
  renderConversations();
  if (current) openConversation(current);
  running = new AbortController();
  getLoop(running.signal);
  incomingLoop(running.signal);
  statusLoop(running.signal);
}

function stop() {
  if (running) running.abort();
  running = null;
  current = null;
  $('thread').hidden = true;
}

// ---- Messages ----

// mergeStored adds the messages another tab of this browser has stored:
// each tab long-polls, and a get hands a message to one of them only.
function mergeStored() {
  const known = new Set(messages.map((m) => m.key));
  const more = saved.messages(account.number).filter((m) => !known.has(m.key));
  if (more.length === 0) return false;
  messages.push(...more);
  messages.sort((a, b) => a.time - b.time || (a.id || 0) - (b.id || 0));
  return true;
}

function save() {
  mergeStored();
  const byPeer = new Map();
  for (const m of messages) {
    if (!byPeer.has(m.peer)) byPeer.set(m.peer, []);
    byPeer.get(m.peer).push(m);
  }
  messages = [...byPeer.values()].flatMap((list) => list.slice(-KEEP));
  saved.setMessages(account.number, messages);
}

function addMessage(m) {
  if (messages.some((x) => x.key === m.key)) return false;
  messages.push(m);
  messages.sort((a, b) => a.time - b.time || (a.id || 0) - (b.id || 0));
  return true;
}

// fromGet turns a message get answered into ours.
async function fromGet(m) {
  const base = { key: `in-${m.msgid}`, id: Number(m.msgid), peer: m.caller, mine: false, time: m.time, name: m.caller_name, length: m.length };
  if (m.uri === 'missed.call') return { ...base, kind: 'missed' };
  if (m.fname) return { ...base, kind: 'file', fname: m.fname };
  let body = m.text;
  if (body === undefined) { // a text too long to come with get
    try {
      body = text((await client.fetch({ uuid: account.uuid, msgid: m.msgid })).data);
    } catch {
      body = '…';
    }
  }
  return { ...base, kind: 'text', body };
}

async function getLoop(signal) {
  let backoff = 1;
  while (!signal.aborted) {
    try {
      const a = await client.get({ uuid: [account.uuid], wait: WAIT }, { signal });
      online();
      backoff = 1;
      let added = false;
      for (const m of a.messages) added = addMessage(await fromGet(m)) || added;
      if (added) {
        save();
        renderConversations();
        if (current) renderThread();
        markRead();
      }
    } catch (err) {
      if (signal.aborted) return;
      if (err instanceof RingdError && err.code === 10004) { // the number is gone
        saved.account = null;
        stop();
        showWelcome();
        return;
      }
      const wait = err instanceof RingdError && err.retryAfter ? err.retryAfter : backoff;
      offline(wait);
      await sleep(wait * 1000, signal);
      backoff = Math.min(backoff * 2, 30);
    }
  }
}

// markRead tells the senders of the open conversation's messages that
// they were read, while the page is seen.
async function markRead() {
  if (!current || document.visibilityState !== 'visible') return;
  const toRead = messages.filter((m) => m.peer === current && unread(m));
  if (toRead.length === 0) return;
  toRead.forEach((m) => { m.read = true; });
  save();
  renderConversations();
  try {
    await client.read({ uuid: account.uuid, msgid: toRead.map((m) => String(m.id)) });
  } catch { /* expired ones cannot be marked; the marks are only a courtesy */ }
}

// statusLoop asks the state of the messages sent from here not yet read,
// so their marks move from sent to delivered to read.
async function statusLoop(signal) {
  while (!signal.aborted) {
    await sleep(2000, signal);
    if (signal.aborted || document.visibilityState !== 'visible') continue;
    const dayAgo = Date.now() / 1000 - 23 * 3600;
    const open = messages.filter((m) => m.mine && m.id && m.state !== 'read' && m.state !== 'failed' && m.time > dayAgo).slice(-100);
    if (open.length === 0) continue;
    try {
      const a = await client.status({ uuid: account.uuid, msgid: open.map((m) => String(m.id)) }, { signal });
      let changed = false;
      for (const m of open) {
        const s = a.status[String(m.id)];
        if (s && s !== m.state) { m.state = s; changed = true; }
      }
      if (changed) { save(); if (current) renderThread(); }
    } catch (err) {
      if (err instanceof RingdError && err.code === 10013) {
        open.forEach((m) => { if (m.state === 'sent') m.state = 'delivered'; m.time = 0; }); // expired: stop asking
      }
    }
  }
}

async function sendText(body) {
  const m = { key: `out-${randomId(8)}`, peer: current, mine: true, time: Date.now() / 1000, kind: 'text', body, state: 'sending' };
  addMessage(m);
  deliverText(m);
}

// deliverText sends a text; again after a failure, with the same cid, so
// that a send that did arrive is not stored twice.
async function deliverText(m) {
  m.state = 'sending';
  renderThread();
  try {
    // cid: a retry of this send is stored once.
    const a = await client.send({ uuid: account.uuid, callee: m.peer, cid: m.key }, m.body);
    Object.assign(m, { id: Number(a.msgid), time: a.time, state: 'sent' });
  } catch (err) {
    m.state = 'failed';
    status(errorText(err), true);
  }
  save();
  renderConversations();
  renderThread();
}

// fileName makes a browser's file name one the protocol takes: 2 to 100
// characters, no control characters, no slashes.
function fileName(name) {
  let n = [...name.replace(/[\u0000-\u001f\u007f-\u009f/\\]/g, '_')].slice(-100).join('');
  if ([...n].length < 2) n = `${n}__`.slice(0, 2);
  return n;
}

async function sendFile(file) {
  if (!current || !file) return;
  const fname = fileName(file.name);
  const m = { key: `out-${randomId(8)}`, peer: current, mine: true, time: Date.now() / 1000, kind: 'file', fname, length: file.size, state: 'sending' };
  addMessage(m);
  renderThread();
  const bar = $('progress');
  bar.hidden = false;
  bar.value = 0;
  const progress = (sent, total) => {
    bar.value = total ? sent / total : 1;
    $('upload-status').textContent = t('uploading', fname, Math.round(100 * bar.value));
  };
  progress(0, file.size);
  try {
    const a = await upload({ req: 'send', uuid: account.uuid, callee: current, fname, cid: m.key }, file, progress);
    Object.assign(m, { id: Number(a.msgid), time: a.time, state: 'sent' });
  } catch (err) {
    m.state = 'failed';
    status(errorText(err), true);
  }
  bar.hidden = true;
  $('upload-status').textContent = '';
  save();
  renderConversations();
  renderThread();
}

async function download(m, button) {
  button.disabled = true;
  button.textContent = t('downloading');
  try {
    const { answer: a, data } = await client.fetch({ uuid: account.uuid, msgid: String(m.id) });
    const url = URL.createObjectURL(new Blob([data]));
    const link = document.createElement('a');
    link.href = url;
    link.download = a.fname || m.fname;
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60000);
  } catch (err) {
    status(errorText(err), true);
  }
  button.disabled = false;
  button.textContent = t('download');
}

// ---- Rendering ----

function timeText(sec) {
  const d = new Date(sec * 1000);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay ? d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    : d.toLocaleString([], { month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

// unread reports whether m is a message from the peer not yet read here.
function unread(m) {
  return !m.mine && (m.kind === 'text' || m.kind === 'file') && !m.read;
}

function preview(m) {
  if (m.kind === 'missed') return t('missedCall');
  if (m.kind === 'call') return m.body;
  if (m.kind === 'file') return m.fname;
  return m.body;
}

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props);
  e.append(...children);
  return e;
}

function renderConversations() {
  const last = new Map();
  for (const m of messages) last.set(m.peer, m);
  if (current && !last.has(current)) last.set(current, null);
  const peers = [...last.keys()].sort((a, b) => ((last.get(b) || {}).time || Infinity) - ((last.get(a) || {}).time || Infinity));
  const list = $('conversations');
  list.replaceChildren(...peers.map((peer) => {
    const m = last.get(peer);
    const count = messages.filter((x) => x.peer === peer && unread(x)).length;
    const b = el('button', { type: 'button' },
      el('span', { className: 'peer', textContent: peerTitle(peer) }),
      count ? el('span', { className: 'badge', textContent: String(count) }) : el('span'),
      el('span', { className: 'preview', textContent: m ? preview(m) : '' }));
    b.dataset.peer = peer;
    if (peer === current) b.setAttribute('aria-current', 'true');
    b.addEventListener('click', () => openConversation(peer));
    return el('li', {}, b);
  }));
  $('no-conversations').hidden = peers.length > 0;
  const total = messages.filter(unread).length;
  document.title = total ? `(${total}) ${t('appTitle')}` : t('appTitle');
  const missed = messages.filter((m) => m.kind === 'missed').slice(-5).reverse();
  $('missed').hidden = missed.length === 0;
  $('missed-list').replaceChildren(...missed.map((m) => el('li', { textContent: `${t('missedFrom', m.name ? `${m.name} (${m.peer})` : m.peer)} · ${timeText(m.time)}` })));
}

const marks = { sending: '…', sent: '✓', delivered: '✓✓', read: '✓✓', failed: '!' };

function renderMessage(m) {
  const li = el('li');
  li.dataset.key = m.key;
  if (m.kind === 'missed') {
    li.className = 'missed-call';
    li.append(el('span', { className: 'icon missed' }), `${t('missedCall')} · ${timeText(m.time)}`);
    return li;
  }
  if (m.kind === 'call') {
    li.className = 'call-log';
    li.append(`${m.body} · ${timeText(m.time)}`);
    return li;
  }
  if (m.mine) li.className = 'mine';
  if (m.kind === 'file') {
    const row = el('div', { className: 'file' },
      el('span', {}, el('span', { className: 'icon file' }), t('fileOf', m.fname, bytes(m.length))));
    if (m.id) {
      const b = el('button', { type: 'button', className: 'plain', textContent: t('download') });
      b.addEventListener('click', () => download(m, b));
      row.append(b);
    }
    li.append(row);
  } else {
    li.append(el('div', { className: 'body', textContent: m.body }));
  }
  if (m.mine && m.state === 'failed' && m.kind === 'text') {
    const retry = el('button', { type: 'button', className: 'plain retry', textContent: t('retry') });
    retry.addEventListener('click', () => deliverText(m));
    li.append(retry);
  }
  const meta = el('div', { className: 'meta', textContent: timeText(m.time) });
  if (m.mine) {
    const mark = el('span', { className: `mark ${m.state}`, textContent: marks[m.state] || '' });
    const word = t(`state${m.state[0].toUpperCase()}${m.state.slice(1)}`);
    mark.title = word;
    mark.setAttribute('aria-label', word);
    li.dataset.state = m.state;
    meta.append(mark);
  }
  li.append(meta);
  return li;
}

function peerTitle(peer) {
  const name = messages.findLast((x) => x.peer === peer && x.name)?.name;
  return name ? `${name} · ${peer}` : peer;
}

function renderThread() {
  $('peer').textContent = peerTitle(current);
  const list = $('messages');
  const atEnd = list.scrollHeight - list.scrollTop - list.clientHeight < 40;
  list.replaceChildren(...messages.filter((m) => m.peer === current).map(renderMessage));
  if (atEnd || list.dataset.peer !== current) list.scrollTop = list.scrollHeight;
  list.dataset.peer = current;
}

function openConversation(peer) {
  current = peer;
  $('thread').hidden = false;
  $('chat').classList.add('in-thread');
  renderConversations();
  renderThread();
  markRead();
  $('text').focus();
}

let statusTimer = null;

// status says msg in the footer; an error for a while, then the connection
// state again.
function status(msg, bad = false) {
  $('status').textContent = msg;
  $('status').classList.toggle('bad', bad);
  clearTimeout(statusTimer);
  if (bad) {
    statusTimer = setTimeout(() => {
      if ($('status').dataset.state !== 'online') return; // still offline: that stays said
      $('status').textContent = t('online');
      $('status').classList.remove('bad');
    }, 8000);
  }
}
function online() { if ($('status').dataset.state !== 'online') { status(t('online')); $('status').dataset.state = 'online'; } }
function offline(sec) { status(t('offline', sec), true); $('status').dataset.state = 'offline'; }

function sleep(ms, signal) {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => { clearTimeout(timer); resolve(); }, { once: true });
  });
}

// ---- Calls ----

// One call at a time is shown; another that rings meanwhile rings out and
// becomes a missed call.
let call = null; // {id, peer, incoming, state}
const seenCalls = [];

// callData is what this page sends as its call data: the protocol carries
// it to the other side as is; a real client would put its media offer or
// answer here.
function callData(kind) {
  return JSON.stringify({ client: 'ringd web', [kind]: 'no media: signaling only' });
}

async function startCall() {
  if (call || !current) return;
  call = { peer: current, incoming: false, state: 'ringing' };
  showCall();
  try {
    const a = await client.call({ uuid: account.uuid, callee: current }, callData('offer'));
    call.id = a.callid;
    followCall(call);
  } catch (err) {
    call.state = 'ended';
    call.error = errorText(err);
    showCall();
  }
}

// followCall long-polls callinfo until the call ends, showing each state.
async function followCall(c) {
  while (call === c && c.state !== 'ended') {
    try {
      const { answer: a, data } = await client.callinfo({ uuid: account.uuid, callid: c.id, wait: WAIT });
      c.state = a.state;
      c.reason = a.reason;
      if (data.length) c.data = text(data);
      if (a.state === 'ended') logCall(c, a);
      if (call === c) showCall();
    } catch (err) {
      if (err instanceof RingdError && err.code === 10012) { c.state = 'ended'; showCall(); return; }
      await sleep(2000);
    }
  }
}

// logCall notes an ended call in its conversation. A call that rang
// unanswered at the callee is left out there: the server's missed-call
// message notes it.
function logCall(c, info) {
  if (c.incoming && (c.reason === 'cancelled' || c.reason === 'timeout')) return;
  let how = t(`reason_${c.reason}`);
  if (info.answer_time && info.end_time) how += ` (${duration(info.end_time - info.answer_time)})`;
  const body = t(c.incoming ? 'callIn' : 'callOut', how);
  if (addMessage({ key: `call-${c.id}`, peer: c.peer, mine: !c.incoming, time: info.end_time || Date.now() / 1000, kind: 'call', body })) {
    save();
    renderConversations();
    if (current) renderThread();
  }
}

function duration(sec) {
  return `${Math.floor(sec / 60)}:${String(sec % 60).padStart(2, '0')}`;
}

async function incomingLoop(signal) {
  while (!signal.aborted) {
    try {
      const a = await request({ req: 'incoming', uuid: [account.uuid], wait: WAIT, seen: seenCalls.slice(-100) }, { signal });
      for (const c of a.calls) {
        if (seenCalls.includes(c.callid)) continue;
        seenCalls.push(c.callid);
        if (!call) {
          call = { id: c.callid, peer: c.caller, name: c.caller_name, incoming: true, state: 'ringing' };
          showCall();
          followCall(call);
        }
      }
    } catch (err) {
      if (signal.aborted) return;
      await sleep(err instanceof RingdError && err.retryAfter ? err.retryAfter * 1000 : 3000, signal);
    }
  }
}

async function callAction(req, data) {
  const c = call;
  try {
    if (req === 'answer') await client.answer({ uuid: account.uuid, callid: c.id }, data);
    else await client.hangup({ uuid: account.uuid, callid: c.id });
  } catch (err) {
    c.error = errorText(err);
    showCall();
  }
}

function showCall() {
  const c = call;
  $('call-panel').hidden = !c;
  if (!c) return;
  const who = c.name ? `${c.name} (${c.peer})` : c.peer;
  let title = c.incoming ? t('incomingFrom', who) : t('calling', who);
  if (c.state !== 'ringing') title = t('callWith', who);
  $('call-title').textContent = title;
  const state = $('call-state');
  state.className = c.state;
  state.dataset.state = c.state;
  state.textContent = c.error || (c.state === 'ended' ? t('ended', t(`reason_${c.reason}`)) : t(c.state));
  $('call-data').textContent = c.data ? t('callData', c.data) : '';
  const ringing = c.state === 'ringing' && c.id;
  $('call-answer').hidden = !(c.incoming && ringing);
  $('call-decline').hidden = !(c.incoming && ringing);
  $('call-hangup').hidden = !((!c.incoming && ringing) || c.state === 'answered');
  $('call-close').hidden = c.state !== 'ended';
}

// ---- Wiring ----

function wire() {
  applyStrings();
  $('register').addEventListener('click', onRegister);
  $('login').addEventListener('click', onLogin);
  $('logout').addEventListener('click', onLogout);
  $('new-chat').addEventListener('submit', (e) => {
    e.preventDefault();
    const n = $('new-number').value.trim();
    $('new-chat-error').hidden = /^[0-9]{3,15}$/.test(n);
    if (!$('new-chat-error').hidden) { $('new-chat-error').textContent = t('numberInvalid'); return; }
    $('new-number').value = '';
    openConversation(n);
  });
  $('back').addEventListener('click', () => { current = null; $('chat').classList.remove('in-thread'); renderConversations(); });
  $('composer').addEventListener('submit', (e) => {
    e.preventDefault();
    const body = $('text').value;
    if (!body.trim()) return;
    $('text').value = '';
    sendText(body);
  });
  $('text').addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey) { e.preventDefault(); $('composer').requestSubmit(); }
  });
  $('file').addEventListener('change', () => { const f = $('file').files[0]; $('file').value = ''; sendFile(f); });
  const thread = $('thread');
  thread.dataset.drop = t('dropHint');
  thread.addEventListener('dragover', (e) => { e.preventDefault(); thread.classList.add('dragging'); });
  thread.addEventListener('dragleave', (e) => { if (!thread.contains(e.relatedTarget)) thread.classList.remove('dragging'); });
  thread.addEventListener('drop', (e) => {
    e.preventDefault();
    thread.classList.remove('dragging');
    sendFile(e.dataTransfer.files[0]);
  });
  $('call').addEventListener('click', startCall);
  $('call-answer').addEventListener('click', () => callAction('answer', callData('answer')));
  $('call-decline').addEventListener('click', () => callAction('hangup'));
  $('call-hangup').addEventListener('click', () => callAction('hangup'));
  $('call-close').addEventListener('click', () => { call = null; showCall(); });
  document.addEventListener('visibilitychange', markRead);
  window.addEventListener('storage', (e) => {
    if (account && e.key === `ringd.messages.${account.number}` && mergeStored()) {
      renderConversations();
      if (current) renderThread();
    }
  });

  const a = saved.account;
  if (a) {
    $('name').value = a.name || '';
    begin(a);
  } else {
    showWelcome();
  }
}

wire();
