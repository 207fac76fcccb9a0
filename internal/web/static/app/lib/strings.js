// Every string the pages show, in one table per language, English first.
// A page marks elements with data-i18n="key" (their text),
// data-i18n-placeholder, data-i18n-title or data-i18n-aria-label, and
// calls applyStrings; code calls t(key, ...args), where {0}, {1} stand for
// the args.

const en = {
  appTitle: 'ringd',
  consoleTitle: 'ringd console',
  // The web client: signing in.
  welcomeTitle: 'Get a number',
  welcomeText: 'Register a new number, or log in with the uuid of one you have. This browser keeps it.',
  yourName: 'Your name',
  namePlaceholder: '2 to 32 characters',
  wantedNumber: 'Number (optional)',
  wantedPlaceholder: 'any free number',
  register: 'Register a number',
  haveUuid: 'I have a uuid',
  uuidLabel: 'uuid',
  login: 'Log in',
  logout: 'Log out',
  yourUuid: 'Your uuid',
  uuidWarning: 'The uuid is the key to your number: whoever has it can read your messages. Keep it to log in elsewhere.',
  nameInvalid: 'A name is 2 to 32 characters.',
  uuidInvalid: 'That is not a uuid.',
  // Conversations.
  numberPlaceholder: 'Number to write to',
  open: 'Open',
  noConversations: 'No conversations yet. Enter a number above.',
  numberInvalid: 'A number is 3 to 15 digits.',
  back: '‹ Back',
  call: 'Call',
  send: 'Send',
  attach: 'File',
  textPlaceholder: 'Message',
  dropHint: 'Drop a file here to send it',
  download: 'Download',
  downloading: 'Downloading…',
  fileOf: '{0} ({1})',
  sending: 'Sending…',
  uploading: 'Sending {0}: {1}%',
  stateSending: 'sending',
  stateSent: 'sent',
  stateDelivered: 'delivered',
  stateRead: 'read',
  stateFailed: 'not sent',
  retry: 'Not sent: try again',
  missedCall: 'Missed call',
  missedCalls: 'Missed calls',
  missedFrom: 'Missed call from {0}',
  // Calls.
  signalingOnly: 'Signaling only: ringd rings, answers and ends calls, and carries the call data below; it carries no audio or video.',
  calling: 'Calling {0}…',
  incomingFrom: '{0} is calling',
  callWith: 'Call with {0}',
  ringing: 'Ringing',
  answered: 'Answered',
  ended: 'Ended: {0}',
  reason_cancelled: 'cancelled',
  reason_declined: 'declined',
  reason_timeout: 'no answer',
  reason_hangup: 'hung up',
  callData: 'Call data from the other side: {0}',
  callOut: 'Outgoing call: {0}',
  callIn: 'Incoming call: {0}',
  answer: 'Answer',
  decline: 'Decline',
  hangup: 'Hang up',
  close: 'Close',
  // Connection.
  online: 'Connected: new messages arrive by themselves.',
  offline: 'Connection lost; trying again in {0} s.',
  // The console.
  tokenTitle: 'Operator sign-in',
  tokenText: 'Enter the admin token (-admin-token). This tab keeps it until it closes.',
  tokenLabel: 'Admin token',
  signIn: 'Sign in',
  signOut: 'Sign out',
  wrongToken: 'Wrong admin token.',
  statsTitle: 'Now',
  stat_numbers: 'numbers',
  stat_in_use: 'in use',
  stat_devices: 'devices',
  stat_messages: 'messages',
  stat_calls: 'calls',
  stat_bytes: 'data stored',
  chartTitle: 'Requests a second, by answer',
  chartEmpty: 'Waiting for two samples…',
  byReqTitle: 'Requests since start',
  colReq: 'request',
  colAnswer: 'answer',
  colCount: 'count',
  reserveTitle: 'Reserve numbers',
  reserveLabel: 'Numbers, separated by spaces or commas',
  reserve: 'Reserve',
  reserved: 'Reserved {0} numbers.',
  creditTitle: 'Credit AI-call seconds',
  numberLabel: 'Number',
  secondsLabel: 'Seconds',
  credit: 'Credit',
  credited: '{0} now has {1} seconds.',
  lookupTitle: 'Look a number up',
  lookup: 'Look up',
  notRegistered: '{0} is not registered.',
  lookupSummary: '{0}: registered, {1}. Balance {2} s. Queued messages: {3}.',
  inUse: 'in use by {0} {1}',
  notInUse: 'not in use',
  colMsgid: 'msgid',
  colCaller: 'from',
  colTime: 'time',
  colLength: 'bytes',
  // Answers' codes, as a person reads them.
  code_10001: 'The server could not store that; try again.',
  code_10002: 'The server refused the request as malformed.',
  code_10003: 'That number is not available.',
  code_10004: 'This uuid names no number.',
  code_10009: 'The server is busy; try again.',
  code_10010: 'Your number is not in use on any device.',
  code_10011: 'That number is not in use.',
  code_10012: 'That call is over.',
  code_10013: 'That message is gone.',
  code_10061: 'Wrong admin token.',
  codeOther: 'Error {0}',
  networkError: 'Network error; try again.',
};

const tables = { en };

const table = tables[(navigator.language || 'en').slice(0, 2)] || en;

// t returns the string of key with {0}, {1}, ... replaced by args.
export function t(key, ...args) {
  let s = table[key] ?? en[key] ?? key;
  args.forEach((a, i) => { s = s.replaceAll(`{${i}}`, String(a)); });
  return s;
}

// errorText is what a person reads for an error from the protocol module.
export function errorText(err) {
  if (err && typeof err.code === 'number') {
    const key = `code_${err.code}`;
    return key in en ? t(key) : t('codeOther', err.code);
  }
  return t('networkError');
}

// applyStrings fills the marked elements under root.
export function applyStrings(root = document) {
  document.documentElement.lang = table === en ? 'en' : navigator.language.slice(0, 2);
  for (const el of root.querySelectorAll('[data-i18n]')) el.textContent = t(el.dataset.i18n);
  for (const attr of ['placeholder', 'title', 'aria-label']) {
    for (const el of root.querySelectorAll(`[data-i18n-${attr}]`)) {
      el.setAttribute(attr, t(el.getAttribute(`data-i18n-${attr}`)));
    }
  }
}

// bytes formats a size for people.
export function bytes(n) {
  if (n < 1024) return `${n} B`;
  if (n < 1 << 20) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1 << 30) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  return `${(n / (1 << 30)).toFixed(2)} GiB`;
}
