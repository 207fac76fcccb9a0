// The operator console: stats and a live chart of the server's answers,
// reserving numbers, crediting AI-call seconds, looking a number up. The
// admin token is kept in sessionStorage only: it goes when the tab closes.

import { client, request, RingdError } from '../app/lib/ringd.js';
import { t, errorText, applyStrings, bytes } from '../app/lib/strings.js';

const $ = (id) => document.getElementById(id);
const REFRESH = 2000; // ms between refreshes of the chart
// Counting what the store holds reads its tables: every fifth refresh.
const STATS_EVERY = 5;
const COLORS = ['#12805c', '#c01e2e', '#b54708', '#7a5af8', '#0e7090', '#667085'];

let token = sessionStorage.getItem('ringd.admin');
let timer = null;

// admin sends an operator request with the token; a 10061 signs out.
async function admin(head) {
  try {
    return await request({ ...head, auth: token });
  } catch (err) {
    if (err instanceof RingdError && err.code === 10061) signOut(t('wrongToken'));
    throw err;
  }
}

async function signIn(e) {
  e.preventDefault();
  token = $('token').value;
  $('token-error').textContent = '';
  $('sign-in').disabled = true;
  try {
    await client.stats({ auth: token });
    sessionStorage.setItem('ringd.admin', token);
    $('token').value = '';
    showDashboard();
  } catch (err) {
    token = null;
    $('token-error').textContent = errorText(err);
  }
  $('sign-in').disabled = false;
}

function signOut(why = '') {
  token = null;
  sessionStorage.removeItem('ringd.admin');
  clearTimeout(timer);
  $('dashboard').hidden = true;
  $('sign-out').hidden = true;
  $('signin').hidden = false;
  $('updated').textContent = '';
  $('token-error').textContent = why;
}

function showDashboard() {
  refreshes = 0;
  $('signin').hidden = true;
  $('dashboard').hidden = false;
  $('sign-out').hidden = false;
  refresh();
}

let refreshes = 0;

async function refresh() {
  clearTimeout(timer);
  if (!token) return;
  if (document.hidden) { // a tab nobody looks at asks nothing
    timer = setTimeout(refresh, REFRESH);
    return;
  }
  try {
    const withStats = refreshes++ % STATS_EVERY === 0;
    const [stats, counters] = await Promise.all([withStats ? admin({ req: 'stats' }) : null, admin({ req: 'counters' })]);
    if (stats) renderStats(stats);
    renderChart(counters);
    renderByReq(counters.requests);
    $('updated').textContent = new Date().toLocaleTimeString();
    $('status').textContent = '';
  } catch (err) {
    if (!token) return;
    $('status').textContent = errorText(err);
  }
  timer = setTimeout(refresh, REFRESH);
}

function el(tag, props = {}, ...children) {
  const e = document.createElement(tag);
  Object.assign(e, props);
  e.append(...children);
  return e;
}

function renderStats(s) {
  const keys = ['numbers', 'in_use', 'devices', 'messages', 'calls', 'bytes'];
  $('stats').replaceChildren(...keys.map((k) => {
    const div = el('div', { className: 'stat' },
      el('b', { textContent: k === 'bytes' ? bytes(s[k]) : String(s[k]) }),
      el('span', { textContent: t(`stat_${k}`) }));
    div.dataset.stat = k;
    return div;
  }));
}

function renderByReq(requests) {
  const rows = [];
  for (const [req, codes] of Object.entries(requests)) {
    for (const [code, n] of Object.entries(codes)) rows.push([req, code, n]);
  }
  rows.sort((a, b) => b[2] - a[2]);
  $('by-req').tBodies[0].replaceChildren(...rows.map(([req, code, n]) =>
    el('tr', {}, el('td', { textContent: req }), el('td', { textContent: code }), el('td', { textContent: String(n) }))));
}

// rates turns the counters' cumulative samples into requests a second by
// answer code, between each pair of samples at least a second apart.
function rates(samples) {
  const codes = new Set();
  samples.forEach((s) => Object.keys(s.answers).forEach((c) => codes.add(c)));
  const sorted = [...codes].sort();
  const points = [];
  let prev = null;
  for (const s of samples) {
    if (prev && s.time - prev.time >= 1) {
      const dt = s.time - prev.time;
      const by = {};
      for (const c of sorted) by[c] = Math.max(0, ((s.answers[c] || 0) - (prev.answers[c] || 0)) / dt);
      points.push({ time: s.time, by });
    }
    if (!prev || s.time - prev.time >= 1) prev = s;
  }
  return { codes: sorted, points };
}

// renderChart draws requests a second, one line per answer code, on the
// canvas at its displayed size and the screen's pixel ratio.
let lastCounters = null;

function renderChart(counters) {
  lastCounters = counters;
  const { codes, points } = rates(counters.samples);
  const canvas = $('chart');
  const ratio = window.devicePixelRatio || 1;
  const w = canvas.clientWidth;
  const h = canvas.clientHeight;
  canvas.width = Math.round(w * ratio);
  canvas.height = Math.round(h * ratio);
  const g = canvas.getContext('2d');
  g.scale(ratio, ratio);
  g.clearRect(0, 0, w, h);
  g.font = '11px system-ui, sans-serif';
  g.fillStyle = '#667085';
  $('legend').replaceChildren(...codes.map((c, i) =>
    el('span', {}, el('i', { className: `c${Math.min(i, COLORS.length - 1)}` }), c === '10000' ? '10000 OK' : c)));
  canvas.setAttribute('aria-label', t('chartTitle'));
  if (points.length < 2) {
    g.fillText(t('chartEmpty'), 10, h / 2);
    return;
  }
  const left = 42;
  const bottom = h - 18;
  const t0 = points[0].time;
  const t1 = points[points.length - 1].time;
  let top = 1;
  points.forEach((p) => codes.forEach((c) => { top = Math.max(top, p.by[c]); }));
  top = niceCeil(top);
  const x = (time) => left + ((w - left - 8) * (time - t0)) / Math.max(1, t1 - t0);
  const y = (v) => bottom - ((bottom - 8) * v) / top;
  g.strokeStyle = '#e2e5ea';
  g.lineWidth = 1;
  for (let i = 0; i <= 4; i++) {
    const v = (top * i) / 4;
    g.beginPath();
    g.moveTo(left, y(v));
    g.lineTo(w - 8, y(v));
    g.stroke();
    g.fillText(v < 10 ? v.toFixed(1) : String(Math.round(v)), 4, y(v) + 4);
  }
  g.fillText(new Date(t0 * 1000).toLocaleTimeString(), left, h - 4);
  const end = new Date(t1 * 1000).toLocaleTimeString();
  g.fillText(end, w - 8 - g.measureText(end).width, h - 4);
  codes.forEach((c, i) => {
    g.strokeStyle = COLORS[Math.min(i, COLORS.length - 1)];
    g.lineWidth = 2;
    g.beginPath();
    points.forEach((p, j) => (j ? g.lineTo(x(p.time), y(p.by[c])) : g.moveTo(x(p.time), y(p.by[c]))));
    g.stroke();
  });
}

function niceCeil(v) {
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

// form wires a form whose submit runs fn and shows its result in out.
function form(id, out, fn) {
  $(id).addEventListener('submit', async (e) => {
    e.preventDefault();
    const button = $(id).querySelector('button');
    button.disabled = true;
    $(out).classList.remove('error', 'ok');
    try {
      $(out).textContent = await fn();
      $(out).classList.add('ok');
      refreshes = 0; // counts at once
      refresh();
    } catch (err) {
      $(out).textContent = errorText(err);
      $(out).classList.add('error');
    }
    button.disabled = false;
  });
}

async function reserve() {
  const numbers = $('reserve-numbers').value.split(/[\s,]+/).filter(Boolean);
  await admin({ req: 'reserve', numbers });
  $('reserve-numbers').value = '';
  return t('reserved', numbers.length);
}

async function credit() {
  const number = $('credit-number').value.trim();
  const a = await admin({ req: 'credit', number, seconds: Number($('credit-seconds').value) });
  return t('credited', number, a.balance);
}

async function lookup() {
  const number = $('lookup-number').value.trim();
  const table = $('lookup-messages');
  table.hidden = true;
  const a = await admin({ req: 'lookup', number });
  if (!a.registered) return t('notRegistered', number);
  table.tBodies[0].replaceChildren(...a.messages.map((m) => el('tr', {},
    el('td', { textContent: m.msgid }), el('td', { textContent: m.caller }),
    el('td', { textContent: new Date(m.time * 1000).toLocaleString() }), el('td', { textContent: String(m.length) }))));
  table.hidden = a.messages.length === 0;
  const use = a.in_use ? t('inUse', a.appid, a.build) : t('notInUse');
  return t('lookupSummary', number, use, a.balance, a.queued);
}

applyStrings();
new ResizeObserver(() => { if (lastCounters && !$('dashboard').hidden) renderChart(lastCounters); }).observe($('chart'));
$('token-form').addEventListener('submit', signIn);
$('sign-out').addEventListener('click', () => signOut());
form('reserve-form', 'reserve-result', reserve);
form('credit-form', 'credit-result', credit);
form('lookup-form', 'lookup-result', lookup);
if (token) showDashboard();
else signOut();
