// Shared helpers for the SDK compatibility drivers.
//
// - Makes the browser SDK (`appwrite`) run under Node 20: `ws` as globalThis.WebSocket
//   (wrapped so every socket and frame is recorded) and a small `window` shim with timers,
//   console and localStorage.
// - Records every HTTP request made through undici (node-appwrite's fetch) with its status,
//   so drivers can assert status codes the SDK itself hides (201/202/204).
// - Reads RTCLI_ENDPOINT, RTCLI_PROJECT, RTCLI_KEY.
// - browser(): simulated browsers, each with its own localStorage (window.localStorage follows
//   the browser whose code runs, via AsyncLocalStorage), Origin and optional cookie jar, so
//   several signed-in users can share one Node process.
// - waitFor(), event collectors, counted assertions and a `run()` wrapper that prints one
//   JSON summary line on stdout and exits non-zero (with diagnostics on stderr) on failure.

import assert from 'node:assert/strict';
import { AsyncLocalStorage } from 'node:async_hooks';
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
    // Inside a simulated browser (browser().run), the handshake carries what a browser sends:
    // its Origin and, for a browser with a cookie jar, the cookies it was given.
    const scope = browserScope.getStore();
    super(url, protocols, scope ? browserSocketOptions(scope, options) : options);
    const rec = {
      url: String(url), frames: [], opened: false, closeCode: null, closeReason: null, socket: this,
      browser: scope?.name ?? null, scope: scope ?? null,
    };
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

  /** The SDK's listeners run inside the socket's browser scope (its localStorage). */
  addEventListener(type, listener, opts) {
    const scope = this._rec?.scope;
    if (scope && typeof listener === 'function') {
      return super.addEventListener(type, (...a) => browserScope.run(scope, () => listener(...a)), opts);
    }
    return super.addEventListener(type, listener, opts);
  }

  send(data, ...rest) {
    let msg = null;
    try { msg = JSON.parse(String(data)); } catch { /* recorded raw */ }
    this._rec.frames.push({ dir: 'out', msg, raw: String(data), at: Date.now() });
    return super.send(data, ...rest);
  }
}

/** A Web Storage (localStorage) shim. */
export class MemoryStorage {
  constructor() { this.map = new Map(); }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) { this.map.set(String(k), String(v)); }
  removeItem(k) { this.map.delete(k); }
  clear() { this.map.clear(); }
  key(i) { return [...this.map.keys()][i] ?? null; }
  get length() { return this.map.size; }
}

/**
 * The simulated browser whose code is running (see browser()). window.localStorage resolves to
 * that browser's own storage; outside any browser scope it is one shared default storage (what
 * the single-guest drivers use).
 */
export const browserScope = new AsyncLocalStorage();
const defaultStorage = new MemoryStorage();

function browserSocketOptions(scope, options) {
  const headers = { ...(options?.headers ?? {}) };
  if (scope.origin) headers.Origin = scope.origin;
  if (scope.cookieJar?.size) headers.Cookie = [...scope.cookieJar].map(([k, v]) => `${k}=${v}`).join('; ');
  return { ...(options ?? {}), headers };
}

globalThis.WebSocket = RecordingWebSocket;
globalThis.window = {
  setTimeout: (...a) => setTimeout(...a),
  clearTimeout: (...a) => clearTimeout(...a),
  setInterval: (...a) => setInterval(...a),
  clearInterval: (...a) => clearInterval(...a),
  console,
  get localStorage() { return browserScope.getStore()?.storage ?? defaultStorage; },
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

/**
 * Every HTTP request: {method, path, body, status}, plus browser (the simulated browser that
 * sent it, or null), requestHeaders and responseHeaders (lower-case names; set-cookie is a list).
 */
export const httpLog = [];

{
  // Resolve undici exactly as node-appwrite does, so we patch the instance it uses.
  const requireFromNodeSdk = createRequire(createRequire(import.meta.url).resolve('node-appwrite'));
  const { Agent, setGlobalDispatcher } = requireFromNodeSdk('undici');
  class RecordingAgent extends Agent {
    dispatch(opts, handler) {
      const scope = browserScope.getStore();
      const rec = {
        method: opts.method,
        path: decodeURIComponentSafe(String(opts.path)),
        body: takePreparedBody(opts.method, String(opts.path)) ?? bodyText(opts.body),
        status: null,
        browser: scope?.name ?? null,
        requestHeaders: headerMap(opts.headers),
        responseHeaders: {},
      };
      httpLog.push(rec);
      const onHeaders = handler.onHeaders?.bind(handler);
      if (onHeaders) {
        handler.onHeaders = (status, ...rest) => {
          rec.status = status;
          rec.responseHeaders = headerMap(rest[0]);
          if (scope?.cookieJar) absorbCookies(scope.cookieJar, rec.responseHeaders['set-cookie']);
          return onHeaders(status, ...rest);
        };
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

/** Headers in any of undici's shapes (object, [k, v, k, v…] of strings/Buffers, [[k, v]…]) as an object. */
function headerMap(raw) {
  const out = {};
  const add = (k, v) => {
    const name = String(k).toLowerCase();
    const value = Array.isArray(v) ? v.map(String) : [String(v)];
    if (name === 'set-cookie') out[name] = [...(out[name] ?? []), ...value];
    else out[name] = out[name] === undefined ? value.join(', ') : `${out[name]}, ${value.join(', ')}`;
  };
  if (!raw) return out;
  if (Array.isArray(raw)) {
    if (raw.length && Array.isArray(raw[0])) for (const [k, v] of raw) add(k, v);
    else for (let i = 0; i + 1 < raw.length; i += 2) add(raw[i], raw[i + 1]);
  } else if (typeof raw[Symbol.iterator] === 'function' && typeof raw !== 'string') {
    for (const [k, v] of raw) add(k, v);
  } else if (typeof raw === 'object') {
    for (const [k, v] of Object.entries(raw)) add(k, v);
  }
  return out;
}

/** A browser's cookie jar (name -> value) after Set-Cookie headers; Max-Age=0 or an empty value deletes. */
function absorbCookies(jar, setCookies) {
  for (const line of setCookies ?? []) {
    const [pair, ...attrs] = line.split(';');
    const i = pair.indexOf('=');
    if (i <= 0) continue;
    const name = pair.slice(0, i).trim();
    const value = pair.slice(i + 1).trim().replace(/^"(.*)"$/, '$1');
    const expired = attrs.some((a) => /^\s*max-age\s*=\s*(0|-\d+)\s*$/i.test(a))
      || attrs.some((a) => /^\s*expires\s*=/i.test(a) && Date.parse(a.split('=').slice(1).join('=')) < Date.now());
    if (expired || value === '') jar.delete(name);
    else jar.set(name, value);
  }
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

/**
 * A Web SDK `Realtime` plus helpers that know the subscription IDs and wait for the server's acks.
 * opts.client: use this Web SDK Client (e.g. one with setSession/setJWT) instead of a new guest one;
 * opts.browser: run the SDK calls inside that simulated browser (its localStorage, Origin, cookies).
 */
export function webRealtime(appwrite, { endpoint, project }, opts = {}) {
  const client = opts.client ?? recordBodies(new appwrite.Client().setEndpoint(endpoint).setProject(project));
  const inScope = (fn) => (opts.browser ? opts.browser.run(fn) : fn());
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
     * opts.expectChannels: the channels the server should echo when they differ from the ones
     * sent (`account` becomes `account` + `account.<uid>` for a user); opts.allowErrors: do not
     * fail on error frames (e.g. a refused `authentication` before the subscribe).
     */
    async subscribe(channels, callback, queries = [], what = String(channels), subOpts = {}) {
      const before = new Set(realtime.activeSubscriptions.keys());
      const idx = socketIndex();
      const m = idx >= 0 ? mark(idx) : { socketIndex: sockets.length, pos: 0 };
      const sub = await inScope(() => realtime.subscribe(channels, callback, queries));
      const added = [...realtime.activeSubscriptions.keys()].filter((k) => !before.has(k));
      assert.equal(added.length, 1, 'the SDK registered exactly one new subscription');
      const id = added[0];
      const ack = await waitAck(m, 'subscribe', id, what);
      if (!subOpts.allowErrors) await waitErrorFree(m);
      // The SDK sent our channels and queries under that id.
      const sent = framesAfter(m, 'out').filter((f) => f.msg.type === 'subscribe')
        .flatMap((f) => f.msg.data).find((d) => d.subscriptionId === id);
      check.ok(sent, `the SDK sent a subscribe frame for ${id}`);
      const acked = ack.msg.data.subscriptions.find((s) => s.subscriptionId === id);
      check.equal(ack.msg.data.success, true, `subscribe ack success for ${what}: ${ack.raw}`);
      check.sameSet(acked.channels, subOpts.expectChannels ?? sent.channels, `channels echoed in the subscribe ack for ${what}`);
      return { sub, id };
    },
    /** sub.update(changes) and wait for the server's ack of the same subscription id. */
    async update(handle, changes, what = 'update') {
      const m = mark(socketIndex());
      await inScope(() => handle.sub.update(changes));
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
      await inScope(() => handle.sub.unsubscribe());
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
 * subs: {name: {id, col, conn?}} (col from collector()). With several connections, give each
 * entry `conn` (any label of its connection): a callback's `subscriptions` is then expected to
 * hold the expected subscriptions of that connection only. Returns {result, events: {name: ev}, ids}.
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
    const same = expected.filter((n) => (subs[n].conn ?? null) === (subs[name].conn ?? null));
    check.sameSet(ev.subscriptions, same.map((n) => subs[n].id),
      `${what}: "subscriptions" in the callback of "${name}" (expected ${same.join(', ')})`);
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
// Row-event expectations

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
// Users: simulated browsers, session tokens, account/team event expectations

/**
 * A simulated browser tab for one user: its own localStorage (so one user's cookieFallback
 * never leaks into another's requests), an Origin on its requests and WebSocket handshakes, optionally a
 * cookie jar (cookies from Set-Cookie are sent on its WebSocket handshakes, as a browser does;
 * Node's fetch keeps no cookies, so REST calls authenticate by the SDK's own headers), and Web
 * SDK services whose calls run inside the browser's scope.
 * Returns {name, project, storage, client, account, tablesDB, teams, run(fn), realtime(), sessionToken()}.
 */
export function browser(appwrite, { endpoint, project }, name, { origin = 'http://localhost:5173', cookies = false } = {}) {
  const b = { name, project, origin, storage: new MemoryStorage(), cookieJar: cookies ? new Map() : null };
  b.run = (fn) => browserScope.run(b, fn);
  b.client = recordBodies(new appwrite.Client().setEndpoint(endpoint).setProject(project));
  // A browser sends its Origin on cross-origin fetches (the page is not served by the API).
  if (origin) b.client.headers.Origin = origin;
  const bind = (svc) => new Proxy(svc, {
    get(target, prop) {
      const v = target[prop];
      return typeof v === 'function' ? (...a) => b.run(() => v.apply(target, a)) : v;
    },
  });
  b.account = bind(new appwrite.Account(b.client));
  b.tablesDB = bind(new appwrite.TablesDB(b.client));
  b.teams = bind(new appwrite.Teams(b.client));
  /** The session token the SDK keeps in localStorage.cookieFallback (null if none). */
  b.sessionToken = () => {
    const raw = b.storage.getItem('cookieFallback');
    if (!raw) return null;
    try { return JSON.parse(raw)?.[`a_session_${project}`] ?? null; } catch { return null; }
  };
  b.realtime = () => webRealtime(appwrite, { endpoint, project }, { client: b.client, browser: b });
  return b;
}

/** Appwrite's session token: base64(JSON {id, secret}). */
export function decodeToken(token) {
  return JSON.parse(Buffer.from(token, 'base64').toString('utf8'));
}

/** The same token with one character of its secret changed (still well-formed). */
export function tamperToken(token) {
  const t = decodeToken(token);
  const i = Math.floor(t.secret.length / 2);
  const c = t.secret[i] === 'a' ? 'b' : 'a';
  return Buffer.from(JSON.stringify({ id: t.id, secret: t.secret.slice(0, i) + c + t.secret.slice(i + 1) })).toString('base64');
}

/** Parsed frames of socket `i` (direction 'in'/'out', optional message type). */
export function socketFrames(i, dir, type) {
  const s = sockets[i];
  if (!s) return [];
  return s.frames.filter((f) => f.msg && (!dir || f.dir === dir) && (!type || f.msg.type === type));
}

/** Wait until socket `i` is closed by the server; returns {code, reason}. */
export async function waitClosed(i, ms = 5000, what = `socket #${i} to close`) {
  await waitFor(() => sockets[i]?.closeCode !== null && sockets[i]?.closeCode !== undefined, ms, what);
  return { code: sockets[i].closeCode, reason: sockets[i].closeReason };
}

/**
 * Appwrite's event names for a resource path: every combination of each id or `*`, with
 * `.action.attr`, `.action` and bare, plus the bare parent levels.
 * path: [['users', U], ['sessions', S]]; e.g. 10 names for a session create.
 */
export function resourceEvents(path, action, attr) {
  const out = new Set();
  const combos = (pairs) => pairs.reduce((acc, [type, id]) => acc.flatMap((p) => [id, '*'].map((x) => [...p, `${type}.${x}`])), [[]]);
  for (const c of combos(path)) {
    const base = c.join('.');
    if (attr) out.add(`${base}.${action}.${attr}`);
    out.add(`${base}.${action}`);
    out.add(base);
  }
  for (let k = path.length - 1; k >= 1; k--) for (const c of combos(path.slice(0, k))) out.add(c.join('.'));
  return [...out];
}

/**
 * Check a non-row event (account, team, membership): exact events and channels, payload $id.
 * expect: {events, channels, payloadId, subscriptions}
 */
export function checkResourceEvent(ev, expect, what) {
  check.ok(ev && typeof ev === 'object', `${what}: callback argument is an object`);
  check.sameSet(ev.events, expect.events, `${what}: events`);
  check.sameSet(ev.channels, expect.channels, `${what}: channels`);
  check.match(ev.timestamp, TIMESTAMP, `${what}: timestamp format`);
  if (expect.payloadId !== undefined) check.equal(ev.payload?.$id, expect.payloadId, `${what}: payload.$id`);
  if (expect.subscriptions) check.sameSet(ev.subscriptions, expect.subscriptions, `${what}: subscriptions`);
}

/** Callback counts per subscription name, to assert later that nothing else arrived. */
export function snapshot(subs) {
  return Object.fromEntries(Object.entries(subs).map(([k, s]) => [k, s.col.events.length]));
}

/** Assert that no subscription got a callback since `snap` (after a settle time). */
export async function checkQuiet(subs, snap, what, settleMs = 300) {
  await sleep(settleMs);
  for (const [name, s] of Object.entries(subs)) {
    const fresh = s.col.events.slice(snap[name] ?? 0);
    check.equal(fresh.length, 0, `${what}: no callback on "${name}" (got events[0] ${inspect(fresh.map((e) => e.events?.[0]))})`);
  }
}

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
    lines.push(`${r.browser ? `[${r.browser}] ` : ''}${r.method} ${r.path} -> ${r.status}${r.body ? `  body=${r.body.slice(0, 300)}` : ''}`);
  }
  sockets.forEach((s, i) => {
    lines.push(`--- websocket #${i}${s.browser ? ` [${s.browser}]` : ''} ${s.url} opened=${s.opened} close=${s.closeCode} ${s.closeReason ?? ''} ---`);
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

// ---------------------------------------------------------------------------------------
// Storage and functions (storage_realtime.mjs, functions_realtime.mjs)

import { createHash } from 'node:crypto';

/** sha256 (hex) of bytes (Buffer, Uint8Array or ArrayBuffer). */
export function sha256(bytes) {
  return createHash('sha256').update(bytes instanceof ArrayBuffer ? Buffer.from(bytes) : bytes).digest('hex');
}

/** md5 (hex) of bytes: Appwrite's File `signature`. */
export function md5(bytes) {
  return createHash('md5').update(bytes instanceof ArrayBuffer ? Buffer.from(bytes) : bytes).digest('hex');
}

/** A Web SDK service (e.g. `new appwrite.Storage(b.client)`) whose calls run inside browser `b`. */
export function inBrowser(b, service) {
  return new Proxy(service, {
    get(target, prop) {
      const v = target[prop];
      return typeof v === 'function' ? (...a) => b.run(() => v.apply(target, a)) : v;
    },
  });
}

/**
 * A new user, signed up and logged in (account.create + createEmailPasswordSession) in a fresh
 * simulated browser (cookieFallback path). Returns {b, userId, email, token}.
 */
export async function signedInBrowser(appwrite, cfg, name, password = 'correct horse battery') {
  const b = browser(appwrite, cfg, name);
  const email = `${name.toLowerCase()}-${uniq()}@example.com`;
  const acc = await b.account.create({ userId: appwrite.ID.unique(), email, password, name });
  await b.account.createEmailPasswordSession({ email, password });
  const token = b.sessionToken();
  assert.ok(token, `${name}: the session token landed in localStorage.cookieFallback`);
  return { b, userId: acc.$id, email, token };
}

/**
 * An API-key request through node-appwrite's generic client.call (for routes the SDK has no
 * method for, e.g. rtcli's `command` functions). path is relative to the endpoint ("/functions").
 */
export function keyCall(nodeClient, method, path, payload = {}) {
  const url = new URL(nodeClient.config.endpoint + path);
  return nodeClient.call(method, url, { 'X-Appwrite-Project': nodeClient.config.project, 'content-type': 'application/json' }, payload);
}

/**
 * A raw fetch to the API (recorded in httpLog) with the project header; `body` may be a FormData
 * or an object (sent as JSON). Returns {status, headers, json, text}.
 */
export async function rawFetch({ endpoint, project }, method, path, { headers = {}, body } = {}) {
  const h = { 'X-Appwrite-Project': project, ...headers };
  let payload = body;
  if (body && !(body instanceof FormData) && typeof body === 'object') {
    payload = JSON.stringify(body);
    h['content-type'] = 'application/json';
  }
  const res = await fetch(endpoint + path, { method, headers: h, body: payload });
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: res.status, headers: res.headers, json, text };
}

/** A command line for `rtcli serve` that runs a Node script with this Node (paths quoted for /bin/sh). */
export function nodeCommand(scriptPath) {
  const q = (s) => `'${String(s).replace(/'/g, `'"'"'`)}'`;
  return `${q(process.execPath)} ${q(scriptPath)}`;
}

/** The 6 channels of a file event. */
export function fileChannels(bucketId, fileId, action) {
  const base = ['files', `buckets.${bucketId}.files`, `buckets.${bucketId}.files.${fileId}`];
  return [...base, ...base.map((c) => `${c}.${action}`)];
}

/** The 8 channels of an execution event: console and projects.<p> get no action sibling. */
export function executionChannels(project, functionId, executionId, action) {
  const suffixed = ['executions', `executions.${executionId}`, `functions.${functionId}`];
  return ['console', `projects.${project}`, ...suffixed, ...suffixed.map((c) => `${c}.${action}`)];
}
