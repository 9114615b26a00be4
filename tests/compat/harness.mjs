// Shared helpers for the SDK compatibility drivers.
//
// - Makes the browser SDK (`appwrite`) run under Node 20: `ws` as globalThis.WebSocket
//   (wrapped so every socket and frame is recorded) and a small `window` shim with timers,
//   console and localStorage (PROTOCOL.md §6).
// - Records every HTTP request made through undici (node-appwrite's fetch) with its status,
//   so drivers can assert status codes the SDK itself hides (201/202/204).
// - Reads RTCLI_ENDPOINT, RTCLI_PROJECT, RTCLI_KEY.
// - waitFor(), event collectors, counted assertions and a `run()` wrapper that prints one
//   JSON summary line on stdout and exits non-zero (with diagnostics on stderr) on failure.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { inspect } from 'node:util';
import WS from 'ws';

// ---------------------------------------------------------------------------------------
// Environment

export function env() {
  const endpoint = process.env.RTCLI_ENDPOINT;
  const project = process.env.RTCLI_PROJECT || 'default';
  const key = process.env.RTCLI_KEY;
  if (!endpoint || !key) {
    console.error('RTCLI_ENDPOINT and RTCLI_KEY must be set (e.g. http://127.0.0.1:8787/v1 and the server API key)');
    process.exit(2);
  }
  return { endpoint: endpoint.replace(/\/+$/, ''), project, key };
}

// ---------------------------------------------------------------------------------------
// WebSocket recording shim

/** Every socket the SDK opened, in order: {url, frames:[{dir:'in'|'out', msg, raw, at}], closeCode, closeReason, opened}. */
export const sockets = [];

export class RecordingWebSocket extends WS {
  constructor(url, protocols, options) {
    super(url, protocols, options);
    const rec = { url: String(url), frames: [], opened: false, closeCode: null, closeReason: null, socket: this };
    this._rec = rec;
    sockets.push(rec);
    // Registered before the SDK's listeners, so a frame is recorded before the SDK sees it.
    this.on('open', () => { rec.opened = true; });
    this.on('message', (data, isBinary) => {
      const raw = isBinary ? `<binary ${data.length} bytes>` : data.toString();
      let msg = null;
      try { msg = JSON.parse(raw); } catch { /* recorded raw */ }
      rec.frames.push({ dir: 'in', msg, raw, at: Date.now() });
    });
    this.on('close', (code, reason) => { rec.closeCode = code; rec.closeReason = reason?.toString() ?? ''; });
  }

  send(data, ...rest) {
    let msg = null;
    try { msg = JSON.parse(String(data)); } catch { /* recorded raw */ }
    this._rec.frames.push({ dir: 'out', msg, raw: String(data), at: Date.now() });
    return super.send(data, ...rest);
  }
}

const storage = new Map();
globalThis.WebSocket = RecordingWebSocket;
globalThis.window = {
  setTimeout: (...a) => setTimeout(...a),
  clearTimeout: (...a) => clearTimeout(...a),
  setInterval: (...a) => setInterval(...a),
  clearInterval: (...a) => clearInterval(...a),
  console,
  localStorage: {
    getItem: (k) => (storage.has(k) ? storage.get(k) : null),
    setItem: (k, v) => { storage.set(k, String(v)); },
    removeItem: (k) => { storage.delete(k); },
    clear: () => storage.clear(),
  },
};

/** All frames of all sockets, flattened (with the socket index). */
export function allFrames() {
  return sockets.flatMap((s, i) => s.frames.map((f) => ({ ...f, socket: i })));
}

/** A mark (position in the frame log of socket `i`) to look for frames after it. */
export function mark(socketIndex = sockets.length - 1) {
  const s = sockets[socketIndex];
  return { socketIndex, pos: s ? s.frames.length : 0 };
}

function framesAfter(m, dir) {
  const s = sockets[m.socketIndex];
  if (!s) return [];
  return s.frames.slice(m.pos).filter((f) => f.dir === dir && f.msg);
}

// ---------------------------------------------------------------------------------------
// HTTP recording (undici global dispatcher; node-appwrite uses undici's fetch)

/** Every HTTP request: {method, path, body, status}. */
export const httpLog = [];

{
  // Resolve undici exactly as node-appwrite does, so we patch the instance it uses.
  const requireFromNodeSdk = createRequire(createRequire(import.meta.url).resolve('node-appwrite'));
  const { Agent, setGlobalDispatcher } = requireFromNodeSdk('undici');
  class RecordingAgent extends Agent {
    dispatch(opts, handler) {
      const rec = {
        method: opts.method,
        path: decodeURIComponentSafe(String(opts.path)),
        body: takePreparedBody(opts.method, String(opts.path)) ?? bodyText(opts.body),
        status: null,
      };
      httpLog.push(rec);
      const onHeaders = handler.onHeaders?.bind(handler);
      if (onHeaders) {
        handler.onHeaders = (status, ...rest) => { rec.status = status; return onHeaders(status, ...rest); };
      }
      return super.dispatch(opts, handler);
    }
  }
  setGlobalDispatcher(new RecordingAgent());
}

// Bodies as the SDK serialised them (fetch hands undici an async generator we cannot read).
const preparedBodies = [];
function takePreparedBody(method, path) {
  const i = preparedBodies.findIndex((b) => b.method === method && b.path === path);
  return i < 0 ? null : preparedBodies.splice(i, 1)[0].body;
}
/** Patch an SDK client instance so the request bodies it builds are recorded in httpLog. */
export function recordBodies(client) {
  const prepare = client.prepareRequest.bind(client);
  client.prepareRequest = (...args) => {
    const out = prepare(...args);
    if (typeof out?.options?.body === 'string') {
      const u = new URL(out.uri);
      preparedBodies.push({ method: out.options.method, path: u.pathname + u.search, body: out.options.body });
      if (preparedBodies.length > 100) preparedBodies.shift();
    }
    return out;
  };
  return client;
}

function bodyText(body) {
  if (body == null) return '';
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body).toString('utf8');
  return '<body>';
}

function decodeURIComponentSafe(s) {
  try { return decodeURIComponent(s); } catch { return s; }
}

/** The last recorded request matching method and a path predicate/regexp/suffix. */
export function lastRequest(method, pathMatch) {
  const test = typeof pathMatch === 'function' ? pathMatch
    : pathMatch instanceof RegExp ? (p) => pathMatch.test(p)
      : (p) => p.split('?')[0].endsWith(pathMatch);
  for (let i = httpLog.length - 1; i >= 0; i--) {
    const r = httpLog[i];
    if (r.method === method && test(r.path)) return r;
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// Counted assertions

let checks = 0;
/** Run an assertion; on failure, add actual/expected to the custom message. */
function withValues(fn, actual, expected, msg) {
  try {
    fn();
  } catch (e) {
    if (e instanceof assert.AssertionError) {
      e.message = `${msg}\n  actual:   ${inspect(actual, { depth: 4, breakLength: 160 })}`
        + `\n  expected: ${inspect(expected, { depth: 4, breakLength: 160 })}`;
    }
    throw e;
  }
  checks++;
}
export const check = {
  ok(v, msg) { assert.ok(v, msg); checks++; },
  equal(a, b, msg) { withValues(() => assert.equal(a, b, msg), a, b, msg); },
  notEqual(a, b, msg) { withValues(() => assert.notEqual(a, b, msg), a, `not ${inspect(b)}`, msg); },
  deepEqual(a, b, msg) { withValues(() => assert.deepEqual(a, b, msg), a, b, msg); },
  match(s, re, msg) { withValues(() => assert.match(s, re, msg), s, re, msg); },
  /** Set equality with a readable missing/extra diff. */
  sameSet(actual, expected, what) {
    assert.ok(Array.isArray(actual), `${what}: expected an array, got ${inspect(actual)}`);
    const a = new Set(actual);
    const e = new Set(expected);
    const missing = [...e].filter((x) => !a.has(x));
    const extra = [...a].filter((x) => !e.has(x));
    assert.ok(missing.length === 0 && extra.length === 0 && a.size === actual.length,
      `${what}: set mismatch\n  missing: ${inspect(missing)}\n  extra: ${inspect(extra)}\n`
      + `  (got ${actual.length} entries, ${actual.length - a.size} duplicates; expected ${e.size})`);
    checks++;
  },
  /** Expect `fn` to reject with an AppwriteException of the given HTTP code and type. */
  async rejects(fn, { code, type }, what) {
    let err = null;
    try { await fn(); } catch (e) { err = e; }
    assert.ok(err, `${what}: expected an AppwriteException ${code} ${type}, but the call succeeded`);
    assert.equal(err.name, 'AppwriteException', `${what}: expected AppwriteException, got ${err.name}: ${err.message}`);
    checks += 2;
    check.equal(err.code, code, `${what}: code (response: ${err.response})`);
    check.equal(err.type, type, `${what}: type (response: ${err.response})`);
    return err;
  },
};
export const checkCount = () => checks;

// ---------------------------------------------------------------------------------------
// Waiting

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Poll `predicate` every 10 ms until it returns a truthy value (which is returned). */
export async function waitFor(predicate, ms = 5000, what = 'condition') {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await predicate();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(10);
  }
}

/** A callback that records what the SDK hands it. */
export function collector(name) {
  const events = [];
  const cb = (msg) => { events.push(msg); };
  return {
    name,
    cb,
    events,
    /** Wait until at least n callbacks arrived in total; returns the n-th. */
    async waitCount(n, ms = 5000) {
      await waitFor(() => events.length >= n, ms,
        `${n} callback(s) on "${name}" (got ${events.length})`);
      return events[n - 1];
    },
    last() { return events[events.length - 1]; },
  };
}

// ---------------------------------------------------------------------------------------
// SDK helpers

/** A Web SDK `Realtime` plus helpers that know the subscription IDs and wait for the server's acks. */
export function webRealtime(appwrite, { endpoint, project }) {
  const client = recordBodies(new appwrite.Client().setEndpoint(endpoint).setProject(project));
  const realtime = new appwrite.Realtime(client);
  const errors = [];
  realtime.onError((error, code) => { errors.push({ message: error?.message, code }); });

  /** The socket the realtime object currently uses (index in `sockets`). */
  const socketIndex = () => sockets.findIndex((s) => s.socket === realtime.socket);

  async function waitAck(m, to, id, what) {
    return waitFor(() => framesAfter(m, 'in').find((f) => f.msg.type === 'response'
      && f.msg.data?.to === to
      && (f.msg.data?.subscriptions ?? []).some((s) => s.subscriptionId === id)), 5000,
    `server "response" to "${to}" for subscription ${id} (${what})`);
  }

  async function waitErrorFree(m) {
    const err = framesAfter(m, 'in').find((f) => f.msg.type === 'error');
    if (err) throw new Error(`server sent an error frame: ${err.raw}`);
  }

  return {
    client,
    realtime,
    errors,
    socketIndex,
    /**
     * realtime.subscribe(...) and wait until the server acknowledged the subscription.
     * Returns {sub, id} where id is the SDK-generated subscriptionId.
     */
    async subscribe(channels, callback, queries = [], what = String(channels)) {
      const before = new Set(realtime.activeSubscriptions.keys());
      const idx = socketIndex();
      const m = idx >= 0 ? mark(idx) : { socketIndex: sockets.length, pos: 0 };
      const sub = await realtime.subscribe(channels, callback, queries);
      const added = [...realtime.activeSubscriptions.keys()].filter((k) => !before.has(k));
      assert.equal(added.length, 1, 'the SDK registered exactly one new subscription');
      const id = added[0];
      const ack = await waitAck(m, 'subscribe', id, what);
      await waitErrorFree(m);
      // The SDK sent our channels and queries under that id.
      const sent = framesAfter(m, 'out').filter((f) => f.msg.type === 'subscribe')
        .flatMap((f) => f.msg.data).find((d) => d.subscriptionId === id);
      check.ok(sent, `the SDK sent a subscribe frame for ${id}`);
      const acked = ack.msg.data.subscriptions.find((s) => s.subscriptionId === id);
      check.equal(ack.msg.data.success, true, `subscribe ack success for ${what}: ${ack.raw}`);
      check.sameSet(acked.channels, sent.channels, `channels echoed in the subscribe ack for ${what}`);
      return { sub, id };
    },
    /** sub.update(changes) and wait for the server's ack of the same subscription id. */
    async update(handle, changes, what = 'update') {
      const m = mark(socketIndex());
      await handle.sub.update(changes);
      const ack = await waitAck(m, 'subscribe', handle.id, what);
      await waitErrorFree(m);
      check.equal(ack.msg.data.success, true, `subscribe ack (update) success: ${ack.raw}`);
      const acked = ack.msg.data.subscriptions.find((s) => s.subscriptionId === handle.id);
      if (changes.queries) {
        const norm = (q) => { const o = typeof q === 'string' ? JSON.parse(q) : q; return { method: o.method, attribute: o.attribute, values: o.values }; };
        check.deepEqual((acked.queries ?? []).map(norm), changes.queries.map(norm), `queries echoed in the update ack: ${ack.raw}`);
      }
      if (changes.channels) {
        check.sameSet(acked.channels, changes.channels.map(String), `channels echoed in the update ack: ${ack.raw}`);
      }
    },
    /** sub.unsubscribe() and wait for the server's ack. */
    async unsubscribe(handle, what = 'unsubscribe') {
      const m = mark(socketIndex());
      await handle.sub.unsubscribe();
      const ack = await waitAck(m, 'unsubscribe', handle.id, what);
      const item = ack.msg.data.subscriptions.find((s) => s.subscriptionId === handle.id);
      check.equal(item.removed, true, `unsubscribe ack says removed: ${ack.raw}`);
    },
  };
}

/** node-appwrite client acting as the server (API key). */
export function nodeAdmin(sdk, { endpoint, project, key }) {
  const client = recordBodies(new sdk.Client().setEndpoint(endpoint).setProject(project).setKey(key));
  return { client, tablesDB: new sdk.TablesDB(client) };
}

/** Wait until all given columns of a table report status "available". */
export async function waitColumns(tablesDB, databaseId, tableId, keys, ms = 5000) {
  await waitFor(async () => {
    const t = await tablesDB.getTable({ databaseId, tableId });
    const cols = t.columns ?? [];
    return keys.every((k) => cols.some((c) => c.key === k && c.status === 'available'));
  }, ms, `columns ${keys.join(', ')} of ${databaseId}/${tableId} to become available`);
}

/**
 * Run `op` and check which subscriptions get a callback: each name in `expected` exactly one,
 * every other subscription none (after a short settle time), and every delivered callback's
 * `subscriptions` is exactly the ids of the expected subscriptions.
 * subs: {name: {id, col}} (col from collector()). Returns {result, events: {name: ev}, ids}.
 */
export async function deliver(subs, expected, op, what, { settleMs = 150 } = {}) {
  const before = Object.fromEntries(Object.entries(subs).map(([k, s]) => [k, s.col.events.length]));
  const result = await op();
  for (const name of expected) {
    assert.ok(subs[name], `unknown subscription name ${name}`);
    await waitFor(() => subs[name].col.events.length > before[name], 5000, `${what}: a callback on subscription "${name}"`);
  }
  await sleep(settleMs);
  const events = {};
  for (const [name, s] of Object.entries(subs)) {
    const fresh = s.col.events.slice(before[name]);
    const want = expected.includes(name) ? 1 : 0;
    check.equal(fresh.length, want, `${what}: number of callbacks on subscription "${name}" `
      + `(got payload ids ${inspect(fresh.map((e) => e.payload?.$id))} events[0] ${inspect(fresh.map((e) => e.events?.[0]))})`);
    if (want) events[name] = fresh[0];
  }
  const ids = expected.map((n) => subs[n].id);
  for (const [name, ev] of Object.entries(events)) {
    check.sameSet(ev.subscriptions, ids, `${what}: "subscriptions" in the callback of "${name}" (expected ${expected.join(', ')})`);
  }
  return { result, events, ids };
}

/** Create a table (string column `title`, integer column `n`) and wait for the columns. */
export async function setupTable(tablesDB, { db, table, permissions = [], rowSecurity = false, columns = true }) {
  const t = await tablesDB.createTable({ databaseId: db, tableId: table, name: table, permissions, rowSecurity });
  if (columns) {
    await tablesDB.createStringColumn({ databaseId: db, tableId: table, key: 'title', size: 64, required: false });
    await tablesDB.createIntegerColumn({ databaseId: db, tableId: table, key: 'n', required: false });
    await waitColumns(tablesDB, db, table, ['title', 'n']);
  }
  return t;
}

/** Assert the status code of the most recent request `method` whose path ends with `suffix`. */
export function checkStatus(method, suffix, status, what) {
  const r = lastRequest(method, suffix);
  assert.ok(r, `${what}: no ${method} request to …${suffix} was recorded`);
  check.equal(r.status, status, `${what}: HTTP status of ${r.method} ${r.path}`);
}

// ---------------------------------------------------------------------------------------
// Row-event expectations (PROTOCOL.md §2.5, §2.6)

export const ACTIONS = ['create', 'update', 'upsert', 'delete'];
const TIMESTAMP = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}\+00:00$/;

/** The 16 channels published for a row event in a TablesDB database. */
export function rowChannels(db, t, r, action) {
  const base = [
    'documents', `databases.${db}.collections.${t}.documents`, `databases.${db}.collections.${t}.documents.${r}`,
    'rows', `databases.${db}.tables.${t}.rows`, `databases.${db}.tables.${t}.rows.${r}`,
    `tablesdb.${db}.tables.${t}.rows`, `tablesdb.${db}.tables.${t}.rows.${r}`,
  ];
  return [...base, ...base.map((c) => `${c}.${action}`)];
}

/** The 64 event names for a row event in a TablesDB database. */
export function rowEvents(db, t, r, action) {
  const out = new Set();
  const shapes = [['tablesdb', 'tables', 'rows'], ['databases', 'collections', 'documents'], ['databases', 'tables', 'rows']];
  for (const [p, tk, rk] of shapes) {
    for (const d of [db, '*']) {
      out.add(`${p}.${d}`);
      for (const tt of [t, '*']) {
        out.add(`${p}.${d}.${tk}.${tt}`);
        for (const rr of [r, '*']) {
          out.add(`${p}.${d}.${tk}.${tt}.${rk}.${rr}`);
          out.add(`${p}.${d}.${tk}.${tt}.${rk}.${rr}.${action}`);
        }
      }
    }
  }
  return [...out];
}

/**
 * Check one callback argument of a row event.
 * expect: {db, table, id, action, subscriptions: [ids], columns: {k: v}}
 */
export function checkRowEvent(ev, expect) {
  const { db, table, id, action } = expect;
  const what = `${action} event for row ${id}`;
  check.ok(ev && typeof ev === 'object', `${what}: callback argument is an object`);
  check.ok(ev.events.includes(`tablesdb.*.tables.*.rows.*.${action}`), `${what}: events include tablesdb.*.tables.*.rows.*.${action}; got ${inspect(ev.events)}`);
  check.ok(ev.events.includes(`tablesdb.${db}.tables.${table}.rows.${id}.${action}`), `${what}: events include the concrete tablesdb name`);
  check.ok(ev.events.includes(`databases.${db}.collections.${table}.documents.${id}.${action}`), `${what}: events include the mirrored databases…documents name`);
  check.sameSet(ev.events, rowEvents(db, table, id, action), `${what}: events (64 names)`);
  check.equal(ev.channels.length, 16, `${what}: 16 channels; got ${inspect(ev.channels)}`);
  check.ok(ev.channels.includes(`tablesdb.${db}.tables.${table}.rows`), `${what}: channels include tablesdb.${db}.tables.${table}.rows`);
  check.ok(ev.channels.includes(`rows.${action}`), `${what}: channels include rows.${action}`);
  check.sameSet(ev.channels, rowChannels(db, table, id, action), `${what}: channels`);
  check.equal(typeof ev.timestamp, 'string', `${what}: timestamp is a string`);
  check.match(ev.timestamp, TIMESTAMP, `${what}: timestamp format`);
  const p = ev.payload;
  check.equal(p.$id, id, `${what}: payload.$id`);
  check.equal(p.$tableId, table, `${what}: payload.$tableId`);
  check.equal(p.$databaseId, db, `${what}: payload.$databaseId`);
  check.equal(typeof p.$sequence, 'string', `${what}: payload.$sequence is a string (got ${inspect(p.$sequence)})`);
  check.ok(Array.isArray(p.$permissions), `${what}: payload.$permissions is an array`);
  check.match(String(p.$createdAt), TIMESTAMP, `${what}: payload.$createdAt format`);
  check.match(String(p.$updatedAt), TIMESTAMP, `${what}: payload.$updatedAt format`);
  for (const [k, v] of Object.entries(expect.columns ?? {})) {
    check.deepEqual(p[k], v, `${what}: payload.${k}`);
  }
  if (expect.subscriptions) {
    check.sameSet(ev.subscriptions, expect.subscriptions, `${what}: subscriptions (ids of the matching subscriptions)`);
  }
}

/** Check a Row returned by REST. */
export function checkRow(row, { db, table, id, columns = {} }, what = `row ${id}`) {
  check.equal(row.$id, id, `${what}: $id`);
  check.equal(row.$tableId, table, `${what}: $tableId`);
  check.equal(row.$databaseId, db, `${what}: $databaseId`);
  check.equal(typeof row.$sequence, 'string', `${what}: $sequence is a string (got ${inspect(row.$sequence)})`);
  check.ok(Array.isArray(row.$permissions), `${what}: $permissions is an array`);
  check.match(String(row.$createdAt), TIMESTAMP, `${what}: $createdAt format`);
  check.match(String(row.$updatedAt), TIMESTAMP, `${what}: $updatedAt format`);
  for (const [k, v] of Object.entries(columns)) check.deepEqual(row[k], v, `${what}: ${k}`);
}

/** A unique-enough id suffix so drivers can share a server. */
export const uniq = () => Math.random().toString(36).slice(2, 8);

// ---------------------------------------------------------------------------------------
// Runner

function renderFrame(f) {
  const d = f.msg?.data;
  if (f.msg?.type === 'event' && d && typeof d === 'object') {
    const rest = { ...d };
    delete rest.events; delete rest.channels; delete rest.payload; delete rest.subscriptions;
    return `event ${JSON.stringify(d.events?.[0])} (${d.events?.length} events, ${d.channels?.length} channels) `
      + `subscriptions=${JSON.stringify(d.subscriptions)} payload=${JSON.stringify(d.payload)?.slice(0, 400)} `
      + `other=${JSON.stringify(rest).slice(0, 200)}`;
  }
  return f.raw.slice(0, 600);
}

function dumpDiagnostics() {
  const lines = ['--- last HTTP requests (method path -> status) ---'];
  for (const r of httpLog.slice(-25)) {
    lines.push(`${r.method} ${r.path} -> ${r.status}${r.body ? `  body=${r.body.slice(0, 300)}` : ''}`);
  }
  sockets.forEach((s, i) => {
    lines.push(`--- websocket #${i} ${s.url} opened=${s.opened} close=${s.closeCode} ${s.closeReason ?? ''} ---`);
    for (const f of s.frames.slice(-40)) lines.push(`${f.dir === 'in' ? '<-' : '->'} ${renderFrame(f)}`);
  });
  console.error(lines.join('\n'));
}

/**
 * Run a driver body: prints {"ok":true,"driver":name,"checks":N} and exits 0, or prints the
 * failure and diagnostics to stderr, {"ok":false,…} to stdout, and exits 1.
 */
export async function run(name, body, { timeoutMs = 45000 } = {}) {
  let timer;
  try {
    await Promise.race([
      body(),
      new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`driver ${name} exceeded ${timeoutMs} ms`)), timeoutMs); }),
    ]);
    clearTimeout(timer);
    console.log(JSON.stringify({ ok: true, driver: name, checks: checks }));
    process.exit(0);
  } catch (e) {
    clearTimeout(timer);
    const frames = String(e?.stack ?? '').split('\n').filter((l) => l.trim().startsWith('at ')).join('\n');
    console.error(`FAIL ${name}: ${e?.name ?? 'Error'}: ${e?.message ?? e}\n${frames}`);
    if (e?.cause) console.error(`cause: ${e.cause?.stack ?? e.cause}`);
    if (e?.response) console.error(`AppwriteException response: ${e.response}`);
    dumpDiagnostics();
    console.log(JSON.stringify({ ok: false, driver: name, checks: checks, error: String(e?.message ?? e).split('\n')[0] }));
    process.exit(1);
  }
}
