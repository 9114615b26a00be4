// Users and sessions with the real Web SDK in several simulated browsers.
// - Two users sign up and log in (account.create, createEmailPasswordSession). User A uses the
//   cookieFallback path (X-Fallback-Cookies kept in A's localStorage, the SDK sends
//   `authentication` after `connected`); user B uses client.setSession(token) with an empty
//   localStorage. A guest browser has no session at all.
// - A table with rowSecurity and create("users"): a row a user creates without permissions
//   defaults to read/update/delete for that user and reaches only that user's subscriptions;
//   read("any") reaches everyone, read("guests") only the guest, read("users") only the users.
//   Refused writes (another user's row, granting a role one does not hold) publish nothing.
// - `account` channel: A gets users.A.update.name, the create/delete of its own sessions; B and
//   the guest get none of A's; subscribing to account.<A> from B is dropped by the server.
// - JWT: account.createJWT(), a fresh browser with client.setJWT(jwt): REST works and Realtime
//   (jwt in the URL, `connected.user` set, no `authentication` sent) receives A's private rows.
// - Cookie path: a browser that keeps cookies sends a_session_<project> on the WebSocket
//   handshake; `connected.user` is A and the SDK sends no `authentication`. When A deletes
//   that browser's session from another one, that connection stops getting A's rows.
// - The deprecated client.subscribe reads the same cookieFallback; an anonymous session is a
//   user of its own (its rows default to it, read("users") reaches it).
import {
  browser, check, checkResourceEvent, checkRowEvent, checkStatus, collector, decodeToken, deliver, env,
  lastRequest, nodeAdmin, resourceEvents, run, setupTable, socketFrames, sockets, uniq, waitFor,
} from './harness.mjs';
import * as web from 'appwrite';
import * as node from 'node-appwrite';

const cfg = env();
const { Permission, Role, ID } = web;
const PASSWORD = 'correct horse battery';
// The Account and Session models as Appwrite returns them.
const ACCOUNT_KEYS = ['$id', '$createdAt', '$updatedAt', 'name', 'registration', 'status', 'labels', 'passwordUpdate', 'email',
  'phone', 'emailVerification', 'emailCanonical', 'emailIsFree', 'emailIsDisposable', 'emailIsCorporate', 'emailIsCanonical',
  'phoneVerification', 'mfa', 'prefs', 'targets', 'accessedAt', 'impersonator', 'impersonatorUserId'];
const SESSION_KEYS = ['$id', '$createdAt', '$updatedAt', 'userId', 'expire', 'provider', 'providerUid', 'providerAccessToken',
  'providerAccessTokenExpiry', 'providerRefreshToken', 'ip', 'osCode', 'osName', 'osVersion', 'clientType', 'clientCode',
  'clientName', 'clientVersion', 'clientEngine', 'clientEngineVersion', 'deviceName', 'deviceBrand', 'deviceModel',
  'countryCode', 'countryName', 'current', 'factors', 'secret', 'mfaUpdatedAt'];

/** The connected frame and the client's authentication/subscribe frames on socket i. */
function handshake(i) {
  const connected = socketFrames(i, 'in', 'connected')[0];
  const out = socketFrames(i, 'out').map((f) => f.msg.type).filter((t) => t !== 'ping');
  const authReply = socketFrames(i, 'in', 'response').find((f) => f.msg.data?.to === 'authentication');
  return { connected, out, authReply };
}

run('users_realtime', async () => {
  const { tablesDB } = nodeAdmin(node, cfg);
  const db = `db${uniq()}`;
  const T = 'private';
  await tablesDB.create({ databaseId: db, name: 'users realtime' });
  await setupTable(tablesDB, { db, table: T, permissions: [Permission.create(Role.users())], rowSecurity: true });
  const channel = `tablesdb.${db}.tables.${T}.rows`;
  const cookieName = `a_session_${cfg.project}`;

  // --- Sign-up and log-in: user A (cookieFallback) -------------------------------------------
  const A = browser(web, cfg, 'A');
  const emailA = `alice-${uniq()}@example.com`;
  const accA = await A.account.create({ userId: ID.unique(), email: emailA, password: PASSWORD, name: 'Alice' });
  checkStatus('POST', '/account', 201, 'account.create (A)');
  check.equal(accA.email, emailA, 'account.create: email');
  check.equal(accA.name, 'Alice', 'account.create: name');
  check.sameSet(Object.keys(accA), ACCOUNT_KEYS, 'account.create: the fields of the Account model');
  check.equal(A.storage.getItem('cookieFallback'), null, 'no cookieFallback before logging in');
  const UA = accA.$id;

  const sessA = await A.account.createEmailPasswordSession({ email: emailA, password: PASSWORD });
  checkStatus('POST', '/account/sessions/email', 201, 'createEmailPasswordSession (A)');
  check.equal(sessA.userId, UA, 'session.userId');
  check.equal(sessA.provider, 'email', 'session.provider');
  check.equal(sessA.current, true, 'session.current');
  check.equal(sessA.secret, '', 'session.secret is empty for a client (sensitive field)');
  check.sameSet(Object.keys(sessA), SESSION_KEYS, 'the fields of the Session model');
  const login = lastRequest('POST', '/account/sessions/email');
  const tokenA = A.sessionToken();
  check.ok(tokenA, `the SDK stored X-Fallback-Cookies in A's localStorage.cookieFallback (got ${A.storage.getItem('cookieFallback')})`);
  check.deepEqual(JSON.parse(login.responseHeaders['x-fallback-cookies']), { [cookieName]: tokenA },
    'X-Fallback-Cookies header of the session response');
  check.equal(decodeToken(tokenA).id, UA, 'the session token is base64 {"id": userId, "secret": …}');
  const setCookies = login.responseHeaders['set-cookie'] ?? [];
  check.ok(setCookies.some((c) => c.startsWith(`${cookieName}=${tokenA}`)), `Set-Cookie ${cookieName}: ${setCookies}`);
  check.ok(setCookies.some((c) => c.startsWith(`${cookieName}_legacy=${tokenA}`)), `Set-Cookie ${cookieName}_legacy: ${setCookies}`);
  // CORS for a page on another origin: the SDK can only read X-Fallback-Cookies if it is exposed.
  check.equal(login.requestHeaders.origin, A.origin, 'the browser sent its Origin');
  check.equal(login.responseHeaders['access-control-allow-origin'], A.origin, 'CORS echoes the Origin');
  check.equal(login.responseHeaders['access-control-allow-credentials'], 'true', 'CORS allows credentials');
  check.ok(/x-fallback-cookies/i.test(login.responseHeaders['access-control-expose-headers'] ?? ''),
    `CORS exposes X-Fallback-Cookies (got ${login.responseHeaders['access-control-expose-headers']})`);

  const meA = await A.account.get();
  check.equal(meA.$id, UA, 'account.get as A (X-Fallback-Cookies)');
  const getA = lastRequest('GET', '/account');
  check.equal(getA.requestHeaders['x-fallback-cookies'], A.storage.getItem('cookieFallback'),
    'the SDK sent localStorage.cookieFallback as X-Fallback-Cookies');
  check.equal(getA.requestHeaders['x-appwrite-session'], undefined, 'A sends no X-Appwrite-Session');

  // --- user B (client.setSession) ------------------------------------------------------------
  const B = browser(web, cfg, 'B');
  const emailB = `bob-${uniq()}@example.com`;
  const accB = await B.account.create({ userId: ID.unique(), email: emailB, password: PASSWORD, name: 'Bob' });
  const UB = accB.$id;
  await B.account.createEmailPasswordSession({ email: emailB, password: PASSWORD });
  const tokenB = B.sessionToken();
  check.ok(tokenB && tokenB !== tokenA, 'B got its own session token');
  check.equal(A.sessionToken(), tokenA, "B's login left A's localStorage alone");
  B.storage.clear();
  B.client.setSession(tokenB);
  const meB = await B.account.get();
  check.equal(meB.$id, UB, 'account.get as B (X-Appwrite-Session)');
  const getB = lastRequest('GET', '/account');
  check.equal(getB.requestHeaders['x-appwrite-session'], tokenB, 'B sent X-Appwrite-Session');
  check.equal(getB.requestHeaders['x-fallback-cookies'], undefined, 'B sent no X-Fallback-Cookies');

  const G = browser(web, cfg, 'guest');
  await check.rejects(() => G.account.get(), { code: 401, type: 'general_unauthorized_scope' }, 'account.get as a guest');

  // --- Realtime: one connection per browser ------------------------------------------------------
  const rt = { A: A.realtime(), B: B.realtime(), G: G.realtime() };
  const subs = {};
  const add = async (name, conn, channels, expectChannels) => {
    const col = collector(name);
    subs[name] = { ...(await rt[conn].subscribe(channels, col.cb, [], name, { expectChannels })), col, conn };
  };
  await add('aT', 'A', channel);
  await add('bT', 'B', channel);
  await add('gT', 'G', channel);
  await add('aRows', 'A', 'rows');
  await add('gRows', 'G', 'rows');

  for (const [who, uid, token] of [['A', UA, tokenA], ['B', UB, tokenB]]) {
    const h = handshake(rt[who].socketIndex());
    check.equal(h.connected.msg.data.user, null, `${who}: connected.user is null (no cookie on the handshake)`);
    check.deepEqual(h.out.slice(0, 2), ['authentication', 'subscribe'], `${who}: the SDK sent authentication, then subscribe`);
    const auth = socketFrames(rt[who].socketIndex(), 'out', 'authentication')[0];
    check.equal(auth.msg.data.session, token, `${who}: authentication carries the session token`);
    check.ok(h.authReply, `${who}: the server answered the authentication`);
    check.equal(h.authReply.msg.data.success, true, `${who}: authentication success`);
    check.equal(h.authReply.msg.data.user?.$id, uid, `${who}: authentication reply names the user`);
  }
  {
    const h = handshake(rt.G.socketIndex());
    check.equal(h.connected.msg.data.user, null, 'guest: connected.user is null');
    check.ok(!h.out.includes('authentication'), `guest: the SDK sent no authentication (sent ${h.out})`);
  }

  // --- Scenario 1: private rows ----------------------------------------------------------------
  const perms = (uid) => [`read("user:${uid}")`, `update("user:${uid}")`, `delete("user:${uid}")`];
  let d = await deliver(subs, ['aT', 'aRows'], () => A.tablesDB.createRow({
    databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'A private', n: 1 },
  }), 'A creates a row without permissions');
  const rowA = d.result;
  check.sameSet(rowA.$permissions, perms(UA), 'default permissions of a row a user creates');
  checkRowEvent(d.events.aT, { db, table: T, id: rowA.$id, action: 'create', columns: { title: 'A private', n: 1 }, subscriptions: [subs.aT.id, subs.aRows.id] });

  d = await deliver(subs, ['bT'], () => B.tablesDB.createRow({
    databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'B private', n: 2 },
  }), 'B creates a row without permissions');
  const rowB = d.result;
  check.sameSet(rowB.$permissions, perms(UB), "default permissions of B's row");
  checkRowEvent(d.events.bT, { db, table: T, id: rowB.$id, action: 'create', subscriptions: [subs.bT.id] });

  d = await deliver(subs, ['aT', 'aRows', 'bT', 'gT', 'gRows'], () => A.tablesDB.createRow({
    databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'public', n: 3 }, permissions: [Permission.read(Role.any())],
  }), 'A creates a row with read("any")');
  const rowAny = d.result;
  checkRowEvent(d.events.gT, { db, table: T, id: rowAny.$id, action: 'create', subscriptions: [subs.gT.id, subs.gRows.id] });

  d = await deliver(subs, ['gT', 'gRows'], () => tablesDB.createRow({
    databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'guests', n: 4 }, permissions: [Permission.read(Role.guests())],
  }), 'admin creates a row with read("guests")');
  const rowGuests = d.result;
  d = await deliver(subs, ['aT', 'aRows', 'bT'], () => tablesDB.createRow({
    databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'users', n: 5 }, permissions: [Permission.read(Role.users())],
  }), 'admin creates a row with read("users")');
  const rowUsers = d.result;
  d = await deliver(subs, ['bT'], () => tablesDB.createRow({
    databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'for B', n: 6 }, permissions: [Permission.read(Role.user(UB))],
  }), 'admin creates a row with read("user:B")');
  const rowForB = d.result;

  d = await deliver(subs, ['aT', 'aRows'], () => A.tablesDB.updateRow({
    databaseId: db, tableId: T, rowId: rowA.$id, data: { n: 10 },
  }), 'A updates its private row');
  checkRowEvent(d.events.aT, { db, table: T, id: rowA.$id, action: 'update', columns: { n: 10 } });

  // Refused writes publish nothing.
  await deliver(subs, [], () => check.rejects(() => B.tablesDB.updateRow({
    databaseId: db, tableId: T, rowId: rowA.$id, data: { n: 666 },
  }), { code: 404, type: 'row_not_found' }, "B updates A's private row"), "B updates A's private row");
  await deliver(subs, [], () => check.rejects(() => B.tablesDB.deleteRow({ databaseId: db, tableId: T, rowId: rowA.$id }),
    { code: 404, type: 'row_not_found' }, "B deletes A's private row"), "B deletes A's private row");
  await deliver(subs, [], () => check.rejects(() => B.tablesDB.createRow({
    databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'sneaky' }, permissions: [Permission.read(Role.user(UA))],
  }), { code: 401, type: 'user_unauthorized' }, 'B grants read("user:A")'), 'B grants read("user:A")');
  await deliver(subs, [], () => check.rejects(() => G.tablesDB.createRow({
    databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'guest' },
  }), { code: 401, type: 'user_unauthorized' }, 'a guest creates a row in a create("users") table'), 'guest creates a row');

  // REST reads follow the same permissions.
  await check.rejects(() => B.tablesDB.getRow({ databaseId: db, tableId: T, rowId: rowA.$id }),
    { code: 404, type: 'row_not_found' }, "B reads A's private row");
  const ids = async (who) => (await who.tablesDB.listRows({ databaseId: db, tableId: T })).rows.map((r) => r.$id);
  check.sameSet(await ids(A), [rowA.$id, rowAny.$id, rowUsers.$id], 'rows A can list');
  check.sameSet(await ids(B), [rowB.$id, rowAny.$id, rowUsers.$id, rowForB.$id], 'rows B can list');
  check.sameSet(await ids(G), [rowAny.$id, rowGuests.$id], 'rows the guest can list');

  // --- Scenario 3: the account channel ------------------------------------------------------------
  await add('aAcc', 'A', 'account', ['account', `account.${UA}`]);
  await add('bAcc', 'B', ['account', `account.${UA}`], ['account', `account.${UB}`]); // another user's account.<id> is dropped
  await add('gAcc', 'G', 'account', ['account']);
  await add('aAccUpd', 'A', 'account.update', [`account.${UA}.update`]); // account.<action> is bound to the user

  d = await deliver(subs, ['aAcc', 'aAccUpd'], () => A.account.updateName({ name: 'Alice Liddell' }), 'A: account.updateName');
  check.equal(d.result.name, 'Alice Liddell', 'updateName returns the Account');
  checkResourceEvent(d.events.aAcc, {
    events: resourceEvents([['users', UA]], 'update', 'name'),
    channels: ['account', `account.${UA}`, 'account.update', `account.${UA}.update`],
    payloadId: UA, subscriptions: [subs.aAcc.id, subs.aAccUpd.id],
  }, 'users.A.update.name');
  check.ok(d.events.aAcc.events.includes(`users.${UA}.update.name`), 'events include users.A.update.name');
  check.equal(d.events.aAcc.payload.name, 'Alice Liddell', 'payload is the updated Account');

  d = await deliver(subs, ['bAcc'], () => B.account.updatePrefs({ prefs: { theme: 'dark' } }), 'B: account.updatePrefs');
  checkResourceEvent(d.events.bAcc, {
    events: resourceEvents([['users', UB]], 'update', 'prefs'),
    channels: ['account', `account.${UB}`, 'account.update', `account.${UB}.update`], payloadId: UB,
  }, 'users.B.update.prefs');
  check.deepEqual({ ...d.events.bAcc.payload.prefs }, { theme: 'dark' }, 'payload.prefs'); // json-bigint objects have a null prototype

  d = await deliver(subs, ['aAcc', 'aAccUpd'], () => A.account.updatePassword({ password: `${PASSWORD}!`, oldPassword: PASSWORD }),
    'A: account.updatePassword');
  checkResourceEvent(d.events.aAcc, {
    events: resourceEvents([['users', UA]], 'update', 'password'),
    channels: ['account', `account.${UA}`, 'account.update', `account.${UA}.update`], payloadId: UA,
  }, 'users.A.update.password');
  check.ok(!Object.keys(d.events.aAcc.payload).some((k) => /hash/i.test(k) || k === 'password'), 'no password (hash) in the payload');

  // A second device of A logs in and out: A's `account` subscription sees both; nobody else does.
  const A2 = browser(web, cfg, 'A (second device)');
  d = await deliver(subs, ['aAcc'], () => A2.account.createEmailPasswordSession({ email: emailA, password: `${PASSWORD}!` }),
    'A logs in on a second device');
  const sess2 = d.result;
  checkResourceEvent(d.events.aAcc, {
    events: resourceEvents([['users', UA], ['sessions', sess2.$id]], 'create'),
    channels: ['account', `account.${UA}`], payloadId: sess2.$id,
  }, 'users.A.sessions.S.create');
  check.equal(d.events.aAcc.payload.secret, '', 'the session event payload carries no secret');
  check.equal(d.events.aAcc.payload.userId, UA, 'session event payload.userId');
  const sessionsOfA = await A.account.listSessions();
  check.sameSet(sessionsOfA.sessions.map((s) => s.$id), [sessA.$id, sess2.$id], 'A lists both sessions');
  check.equal(sessionsOfA.sessions.find((s) => s.$id === sessA.$id).current, true, 'listSessions marks the current one');
  check.equal((await A.account.getSession({ sessionId: 'current' })).$id, sessA.$id, "getSession('current')");

  d = await deliver(subs, ['aAcc'], () => A2.account.deleteSession({ sessionId: 'current' }), "A's second device logs out");
  checkStatus('DELETE', `/account/sessions/current`, 204, "deleteSession('current')");
  checkResourceEvent(d.events.aAcc, {
    events: resourceEvents([['users', UA], ['sessions', sess2.$id]], 'delete'),
    channels: ['account', `account.${UA}`], payloadId: sess2.$id,
  }, 'users.A.sessions.S.delete');
  check.equal(A2.storage.getItem('cookieFallback'), '[]', 'after logout the SDK stored X-Fallback-Cookies: []');
  await check.rejects(() => A2.account.get(), { code: 401, type: 'general_unauthorized_scope' }, 'account.get after logout');
  check.equal((await A.account.get()).$id, UA, "A's first session still works");

  // --- Scenario 4: JWT ---------------------------------------------------------------------------
  const { jwt } = await A.account.createJWT();
  checkStatus('POST', '/account/jwts', 201, 'account.createJWT');
  check.match(jwt, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'createJWT returns a JWT');
  const J = browser(web, cfg, 'A via JWT');
  J.client.setJWT(jwt);
  check.equal((await J.account.get()).$id, UA, 'account.get with the JWT');
  check.equal(lastRequest('GET', '/account').requestHeaders['x-appwrite-jwt'], jwt, 'the SDK sent X-Appwrite-JWT');
  check.equal(J.storage.length, 0, 'the JWT browser has no cookieFallback');
  rt.J = J.realtime();
  await add('jT', 'J', channel);
  await add('jAcc', 'J', 'account', ['account', `account.${UA}`]);
  {
    const i = rt.J.socketIndex();
    check.ok(new URL(sockets[i].url).searchParams.get('jwt') === jwt, `the JWT is in the realtime URL: ${sockets[i].url}`);
    const h = handshake(i);
    check.equal(h.connected.msg.data.user?.$id, UA, 'JWT: connected.user is A');
    check.ok(!h.out.includes('authentication'), `JWT: the SDK sent no authentication (sent ${h.out})`);
  }
  check.ok((await ids(J)).includes(rowA.$id), "listRows with the JWT includes A's private row");

  d = await deliver(subs, ['aT', 'aRows', 'jT'], () => A.tablesDB.createRow({
    databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'A private 2', n: 7 },
  }), 'A creates a private row (JWT connection listening)');
  checkRowEvent(d.events.jT, { db, table: T, id: d.result.$id, action: 'create', subscriptions: [subs.jT.id] });
  d = await deliver(subs, ['aT', 'aRows', 'jT'], () => J.tablesDB.createRow({
    databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'via JWT', n: 8 },
  }), 'A creates a private row through the JWT');
  check.sameSet(d.result.$permissions, perms(UA), 'a row created with the JWT defaults to user:A');
  await deliver(subs, ['aAcc', 'aAccUpd', 'jAcc'], () => A.account.updateName({ name: 'Alice' }), 'A renames (JWT connection on account)');

  // --- Cookie path: a browser that sends its cookies on the WebSocket handshake --------------------
  const C = browser(web, cfg, 'A with cookies', { cookies: true });
  d = await deliver(subs, ['aAcc', 'jAcc'], () => C.account.createEmailPasswordSession({ email: emailA, password: `${PASSWORD}!` }),
    'A logs in on a browser that keeps cookies');
  const sessC = d.result;
  check.ok(C.cookieJar.get(cookieName), `the cookie jar holds ${cookieName}`);
  rt.C = C.realtime();
  await add('cT', 'C', channel);
  {
    const i = rt.C.socketIndex();
    const h = handshake(i);
    check.equal(h.connected.msg.data.user?.$id, UA, 'cookie: connected.user is A');
    check.sameSet(Object.keys(h.connected.msg.data.user), ACCOUNT_KEYS, 'connected.user is an Account model');
    check.ok(!h.out.includes('authentication'), `cookie: the SDK sent no authentication (sent ${h.out})`);
  }
  // --- The deprecated client.subscribe path reads the same cookieFallback --------------------------
  const depCol = collector('aDep');
  const unsubscribeDep = A.run(() => A.client.subscribe(channel, depCol.cb));
  const depId = [...A.client.realtime.subscriptions.keys()][0];
  const depSocket = () => sockets.findIndex((s) => s.socket === A.client.realtime.socket);
  await waitFor(() => depSocket() >= 0 && socketFrames(depSocket(), 'in', 'response')
    .some((f) => f.msg.data?.to === 'subscribe' && f.msg.data.subscriptions.some((x) => x.subscriptionId === depId)), 5000,
  'the ack of the deprecated client.subscribe');
  subs.aDep = { id: depId, col: depCol, conn: 'A (deprecated)' };
  {
    const h = handshake(depSocket());
    check.deepEqual(h.out.slice(0, 2), ['authentication', 'subscribe'], 'deprecated path: authentication, then subscribe');
    check.equal(socketFrames(depSocket(), 'out', 'authentication')[0].msg.data.session, tokenA, 'deprecated path: the token from cookieFallback');
    check.equal(h.authReply?.msg.data.user?.$id, UA, 'deprecated path: authenticated as A');
  }

  d = await deliver(subs, ['aT', 'aRows', 'jT', 'cT', 'aDep'], () => A.tablesDB.deleteRow({ databaseId: db, tableId: T, rowId: rowA.$id }),
    'A deletes its private row');
  checkStatus('DELETE', `/rows/${rowA.$id}`, 204, 'deleteRow');
  checkRowEvent(d.events.cT, { db, table: T, id: rowA.$id, action: 'delete', columns: { n: 10 }, subscriptions: [subs.cT.id] });
  await deliver(subs, ['bT'], () => tablesDB.updateRow({ databaseId: db, tableId: T, rowId: rowForB.$id, data: { n: 60 } }),
    'admin updates the row for B');

  // --- An anonymous session is a user of its own ----------------------------------------------------
  const N = browser(web, cfg, 'anonymous');
  const anon = await N.account.createAnonymousSession();
  checkStatus('POST', '/account/sessions/anonymous', 201, 'createAnonymousSession');
  const UN = anon.userId;
  check.ok(UN && UN !== UA && UN !== UB, 'the anonymous session has a user of its own');
  check.ok(N.sessionToken(), 'anonymous session token in cookieFallback');
  rt.N = N.realtime();
  await add('nT', 'N', channel);
  await add('nAcc', 'N', 'account', ['account', `account.${UN}`]);
  d = await deliver(subs, ['nT'], () => N.tablesDB.createRow({
    databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'anonymous', n: 9 },
  }), 'the anonymous user creates a private row');
  check.sameSet(d.result.$permissions, perms(UN), "default permissions of the anonymous user's row");
  await deliver(subs, ['aT', 'aRows', 'jT', 'cT', 'aDep'], () => A.tablesDB.createRow({
    databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'A private 3', n: 11 },
  }), 'A private row (anonymous user listening)');
  await deliver(subs, ['nAcc'], () => N.account.updateName({ name: 'Anon' }), 'the anonymous user renames');
  await deliver(subs, ['aT', 'aRows', 'bT', 'jT', 'cT', 'aDep', 'nT'], () => tablesDB.createRow({
    databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'users 2', n: 12 }, permissions: [Permission.read(Role.users())],
  }), 'read("users") row reaches the anonymous user too');

  // A signs its cookie browser out from the first browser: only that session ends.
  d = await deliver(subs, ['aAcc', 'jAcc'], () => A.account.deleteSession({ sessionId: sessC.$id }), "A deletes the cookie browser's session");
  check.equal(d.events.aAcc.events[0], `users.${UA}.sessions.${sessC.$id}.delete`, 'session delete event');
  check.equal(A.sessionToken(), tokenA, "signing the other browser out leaves A's cookieFallback alone");
  check.equal((await A.account.get()).$id, UA, 'A is still signed in');
  await deliver(subs, ['aT', 'aRows', 'jT', 'aDep'], () => A.tablesDB.createRow({
    databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'A private 4', n: 13 },
  }), "A private row after the cookie browser's session ended (its connection is a guest now)");
  await deliver(subs, ['aT', 'aRows', 'bT', 'gT', 'gRows', 'jT', 'cT', 'aDep', 'nT'], () => tablesDB.createRow({
    databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'public 2', n: 14 }, permissions: [Permission.read(Role.any())],
  }), 'read("any") row reaches every connection');

  for (const [who, r] of Object.entries(rt)) check.deepEqual(r.errors, [], `${who}: no onError callbacks`);
  check.equal(sockets.length, Object.keys(rt).length + 1, 'one socket per Realtime (plus the deprecated one), no reconnects');
  unsubscribeDep();
  for (const r of Object.values(rt)) await r.realtime.disconnect();
});
