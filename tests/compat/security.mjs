// Credentials that must not work, and no event leaks when they are used.
// Needs a server started with a second project (`rtcli serve --project other`); its ID comes
// from RTCLI_OTHER_PROJECT (default "other").
// - Wrong password / unknown email: 401 user_invalid_credentials, no session, no event.
// - After account.deleteSession({sessionId:'current'}) the old token no longer authenticates
//   REST (401 on account.get, by X-Appwrite-Session or X-Fallback-Cookies); a new realtime
//   connection authenticating with it gets error 1003 "Session is not valid." and stays a guest;
//   the connection that had authenticated with that session stops getting private events (an
//   rtcli guarantee: the hub turns it into a guest connection; it stays open).
// - A tampered token (one character of the secret changed) is a guest on REST and realtime.
// - A JWT issued by another project (same user id and email there) is refused: 401
//   user_jwt_invalid on REST; on realtime an error frame (401), then close 1008, no reconnect
//   (Appwrite drops the TCP connection instead; rtcli closes with 1008).
//   Also refused: an expired JWT, a JWT whose session was deleted, a JWT with a forged payload.
// - An API key with only the rows.read scope can list rows but gets 401
//   general_unauthorized_scope on row writes, table creation and key creation.
// Guest, user and "any" monitors on the same tables see no event from any refused attempt.
import {
  browser, check, checkRowEvent, checkStatus, collector, decodeToken, deliver, env, lastRequest, nodeAdmin,
  run, setupTable, sleep, socketFrames, sockets, tamperToken, uniq, waitClosed, waitFor,
} from './harness.mjs';
import * as web from 'appwrite';
import * as node from 'node-appwrite';

const cfg = env();
const otherProject = process.env.RTCLI_OTHER_PROJECT || 'other';
const { Permission, Role, ID } = node;
const PASSWORD = 'correct horse battery';

/** POST /v1/keys (an rtcli extension, no SDK method) through an SDK client's own call(). */
const createKey = (client, body) => client.call('post', new URL(`${client.config.endpoint}/keys`),
  { 'X-Appwrite-Project': client.config.project, 'content-type': 'application/json', accept: 'application/json' }, body);

run('security', async () => {
  const admin = nodeAdmin(node, cfg);
  const { tablesDB } = admin;
  const db = `db${uniq()}`;
  const T = 'vault';
  await tablesDB.create({ databaseId: db, name: 'security' });
  await setupTable(tablesDB, { db, table: T, permissions: [Permission.create(Role.users())], rowSecurity: true });
  const channel = `tablesdb.${db}.tables.${T}.rows`;

  // User A (cookieFallback) and a guest, both listening.
  const A = browser(web, cfg, 'A');
  const emailA = `alice-${uniq()}@example.com`;
  const UA = (await A.account.create({ userId: ID.unique(), email: emailA, password: PASSWORD, name: 'Alice' })).$id;
  await A.account.createEmailPasswordSession({ email: emailA, password: PASSWORD });
  const tokenA = A.sessionToken();
  check.ok(tokenA, 'A: session token in cookieFallback');
  const G = browser(web, cfg, 'guest');

  const rt = { A: A.realtime(), G: G.realtime() };
  const subs = {};
  const add = async (name, conn, channels, opts = {}) => {
    const col = collector(name);
    subs[name] = { ...(await rt[conn].subscribe(channels, col.cb, [], name, opts)), col, conn };
  };
  await add('aT', 'A', channel);
  await add('aAcc', 'A', 'account', { expectChannels: ['account', `account.${UA}`] });
  await add('gT', 'G', channel);
  await add('gAll', 'G', ['rows', 'documents', 'account', 'teams', 'memberships']);

  const privateRow = (title) => () => A.tablesDB.createRow({ databaseId: db, tableId: T, rowId: ID.unique(), data: { title } });
  const publicRow = (title) => () => tablesDB.createRow({
    databaseId: db, tableId: T, rowId: ID.unique(), data: { title }, permissions: [Permission.read(Role.any())],
  });
  await deliver(subs, ['aT'], privateRow('baseline'), 'baseline: A private row');

  // --- Wrong password ---------------------------------------------------------------------------
  const W = browser(web, cfg, 'wrong password');
  await deliver(subs, [], () => check.rejects(() => W.account.createEmailPasswordSession({ email: emailA, password: 'not the password' }),
    { code: 401, type: 'user_invalid_credentials' }, 'wrong password'), 'wrong password');
  await deliver(subs, [], () => check.rejects(() => W.account.createEmailPasswordSession({ email: `nobody-${uniq()}@example.com`, password: PASSWORD }),
    { code: 401, type: 'user_invalid_credentials' }, 'unknown email'), 'unknown email');
  check.equal(W.storage.getItem('cookieFallback'), null, 'no cookieFallback after failed logins');
  check.equal(lastRequest('POST', '/account/sessions/email').responseHeaders['set-cookie'], undefined, 'no Set-Cookie on a failed login');
  check.equal((await A.account.listSessions()).total, 1, 'A still has exactly one session');

  // --- A deleted session ---------------------------------------------------------------------------
  const S = browser(web, cfg, 'A (session to delete)');
  let d = await deliver(subs, ['aAcc'], () => S.account.createEmailPasswordSession({ email: emailA, password: PASSWORD }), 'A logs in again');
  const sessS = d.result;
  const tokenS = S.sessionToken();
  rt.S = S.realtime();
  await add('sT', 'S', channel);
  await deliver(subs, ['aT', 'sT'], privateRow('two sessions'), 'A private row with two sessions listening');

  d = await deliver(subs, ['aAcc'], () => S.account.deleteSession({ sessionId: 'current' }), "deleteSession('current')");
  checkStatus('DELETE', '/account/sessions/current', 204, "deleteSession('current')");
  check.equal(d.events.aAcc.events[0], `users.${UA}.sessions.${sessS.$id}.delete`, 'session delete event reached A');
  const R = browser(web, cfg, 'old token via X-Appwrite-Session');
  R.client.setSession(tokenS);
  await check.rejects(() => R.account.get(), { code: 401, type: 'general_unauthorized_scope' }, 'account.get with the deleted session (X-Appwrite-Session)');
  const R2 = browser(web, cfg, 'old token via X-Fallback-Cookies');
  R2.storage.setItem('cookieFallback', JSON.stringify({ [`a_session_${cfg.project}`]: tokenS }));
  await check.rejects(() => R2.account.get(), { code: 401, type: 'general_unauthorized_scope' }, 'account.get with the deleted session (X-Fallback-Cookies)');
  await check.rejects(() => R.account.createJWT(), { code: 401, type: 'general_unauthorized_scope' }, 'createJWT with the deleted session');

  // A new connection that authenticates with the deleted session.
  rt.O = R.realtime();
  await add('oT', 'O', channel, { allowErrors: true });
  {
    const i = rt.O.socketIndex();
    check.equal(socketFrames(i, 'out', 'authentication')[0]?.msg.data.session, tokenS, 'the SDK sent the old token');
    const err = await waitFor(() => socketFrames(i, 'in', 'error')[0], 3000, 'error frame for the deleted session');
    check.deepEqual(err.msg.data, { code: 1003, message: 'Session is not valid.' }, 'error frame for a deleted session');
    check.ok(!socketFrames(i, 'in', 'response').some((f) => f.msg.data?.to === 'authentication'), 'no authentication success');
    check.deepEqual(rt.O.errors, [{ message: 'Session is not valid.', code: 1003 }], 'onError(…, 1003)');
  }
  // Neither that connection nor the one that had authenticated with the session gets private rows.
  await deliver(subs, ['aT'], privateRow('after logout'), 'A private row after the session was deleted');
  await deliver(subs, ['aT', 'gT', 'sT', 'oT', 'gAll'], publicRow('public 1'), 'read("any") row: the old connections are alive (as guests)');
  check.equal(sockets[rt.O.socketIndex()].closeCode, null, 'a 1003 error keeps the socket open');

  // --- A tampered token ---------------------------------------------------------------------------
  const tampered = tamperToken(tokenA);
  check.equal(decodeToken(tampered).id, UA, 'the tampered token names A');
  check.notEqual(decodeToken(tampered).secret, decodeToken(tokenA).secret, 'the tampered secret differs');
  const X = browser(web, cfg, 'tampered token');
  X.client.setSession(tampered);
  await check.rejects(() => X.account.get(), { code: 401, type: 'general_unauthorized_scope' }, 'account.get with a tampered token');
  const X2 = browser(web, cfg, 'tampered cookieFallback');
  X2.storage.setItem('cookieFallback', JSON.stringify({ [`a_session_${cfg.project}`]: tampered }));
  await check.rejects(() => X2.account.get(), { code: 401, type: 'general_unauthorized_scope' }, 'account.get with a tampered cookieFallback');
  const visibleToX = (await X.tablesDB.listRows({ databaseId: db, tableId: T })).rows;
  check.ok(visibleToX.every((r) => r.$permissions.includes('read("any")')), 'a tampered token lists only public rows (as a guest)');
  await deliver(subs, [], () => check.rejects(() => X.tablesDB.createRow({ databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'x' } }),
    { code: 401, type: 'user_unauthorized' }, 'createRow with a tampered token'), 'createRow with a tampered token');
  rt.X = X2.realtime();
  await add('xT', 'X', channel, { allowErrors: true });
  {
    const i = rt.X.socketIndex();
    check.equal(socketFrames(i, 'out', 'authentication')[0]?.msg.data.session, tampered, 'the SDK sent the tampered token (from cookieFallback)');
    const err = await waitFor(() => socketFrames(i, 'in', 'error')[0], 3000, 'error frame for the tampered token');
    check.deepEqual(err.msg.data, { code: 1003, message: 'Session is not valid.' }, 'error frame for a tampered token');
  }
  await deliver(subs, ['aT'], privateRow('after tampering'), 'A private row (tampered connection listening)');
  await deliver(subs, ['aT', 'gT', 'sT', 'oT', 'xT', 'gAll'], publicRow('public 2'), 'read("any") row reaches the tampered connection as a guest');

  // --- JWTs that must be refused --------------------------------------------------------------------
  // A JWT of project "other", for a user with the same id and email there.
  const O = browser(web, { ...cfg, project: otherProject }, 'A in the other project');
  const accOther = await O.account.create({ userId: UA, email: emailA, password: PASSWORD, name: 'Alice elsewhere' });
  check.equal(accOther.$id, UA, 'same user id in the other project');
  await O.account.createEmailPasswordSession({ email: emailA, password: PASSWORD });
  const { jwt: jwtOther } = await O.account.createJWT();
  const Ojwt = browser(web, { ...cfg, project: otherProject }, 'JWT in the other project');
  Ojwt.client.setJWT(jwtOther);
  check.equal((await Ojwt.account.get()).name, 'Alice elsewhere', 'the JWT works in its own project');

  // Same user id in two projects: events stay in their project, sessions do not cross over.
  rt.P = O.realtime();
  await add('pAcc', 'P', 'account', { expectChannels: ['account', `account.${UA}`] });
  await add('pRows', 'P', ['rows', 'documents']); // public rows of the default project must not show up here
  check.equal(socketFrames(rt.P.socketIndex(), 'in', 'response').find((f) => f.msg.data?.to === 'authentication')?.msg.data.user?.name,
    'Alice elsewhere', 'the other project authenticates its own A');
  let e = await deliver(subs, ['pAcc'], () => O.account.updateName({ name: 'Alice (other)' }), 'A renames in the other project');
  check.equal(e.events.pAcc.payload.name, 'Alice (other)', 'the other project sees its rename');
  await deliver(subs, ['aAcc'], () => A.account.updateName({ name: 'Alice (default)' }), 'A renames in the default project');
  const tokenOther = O.sessionToken();
  check.equal(decodeToken(tokenOther).id, UA, "the other project's session token names the same user id");
  const Y = browser(web, cfg, "other project's session token");
  Y.client.setSession(tokenOther);
  await check.rejects(() => Y.account.get(), { code: 401, type: 'general_unauthorized_scope' },
    "account.get in the default project with the other project's session token");
  rt.Y = Y.realtime();
  await add('yT', 'Y', channel, { allowErrors: true });
  check.deepEqual(rt.Y.errors, [{ message: 'Session is not valid.', code: 1003 }],
    "realtime authentication with the other project's session token: onError 1003");
  await deliver(subs, ['aT'], privateRow('cross-project'), "A private row (other project's token listening)");

  const refusedJwt = async (jwt, what) => {
    const P = browser(web, cfg, `JWT: ${what}`);
    P.client.setJWT(jwt);
    await check.rejects(() => P.account.get(), { code: 401, type: 'user_jwt_invalid' }, `account.get with ${what}`);
    await deliver(subs, [], () => check.rejects(() => P.tablesDB.createRow({ databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'jwt' }, permissions: [Permission.read(Role.any())] }),
      { code: 401, type: 'user_jwt_invalid' }, `createRow with ${what}`), `createRow with ${what}`);
    // Realtime: the JWT goes in the URL; the server answers with an error and closes.
    const r = P.realtime();
    const before = sockets.length;
    const col = collector(`jwt ${what}`);
    await P.run(() => r.realtime.subscribe(channel, col.cb));
    const i = r.socketIndex();
    check.equal(i, before, `${what}: one new socket`);
    check.ok(sockets[i].url.includes('jwt='), `${what}: the JWT is in the realtime URL`);
    const { code } = await waitClosed(i, 5000, `${what}: the server closes the connection`);
    const frames = socketFrames(i, 'in');
    check.equal(frames[0]?.msg.type, 'error', `${what}: the first frame is an error (got ${frames.map((f) => f.raw)})`);
    check.equal(frames[0].msg.data.code, 401, `${what}: error code 401`);
    check.match(frames[0].msg.data.message, /JWT/, `${what}: the error message is about the JWT`);
    check.equal(frames.length, 1, `${what}: nothing but the error frame (no connected, no event)`);
    check.equal(code, 1008, `${what}: close code 1008 (the SDK does not reconnect)`);
    check.deepEqual(r.errors.map((e) => e.code), [401], `${what}: onError got 401`);
    await deliver(subs, ['aT', 'gT', 'sT', 'oT', 'xT', 'yT', 'gAll'], publicRow(`public after ${what}`), `read("any") row after ${what}`);
    check.equal(sockets.length, before + 1, `${what}: no reconnect`);
    check.equal(col.events.length, 0, `${what}: no callback`);
    await r.realtime.disconnect();
  };
  await refusedJwt(jwtOther, 'a JWT of another project');

  const [h, p, s] = (await A.account.createJWT()).jwt.split('.');
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString());
  check.equal(claims.userId ?? claims.sub, UA, 'the JWT names A');
  const forged = Buffer.from(JSON.stringify({ ...claims, userId: 'someone-else' })).toString('base64url');
  await refusedJwt(`${h}.${forged}.${s}`, 'a JWT with a forged payload');
  const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
  await refusedJwt(`${none}.${p}.`, 'an unsigned JWT (alg none)');

  const { jwt: shortJwt } = await A.account.createJWT({ duration: 1 });
  await sleep(2100);
  await refusedJwt(shortJwt, 'an expired JWT');

  const S2 = browser(web, cfg, 'A (JWT session)');
  await deliver(subs, ['aAcc'], () => S2.account.createEmailPasswordSession({ email: emailA, password: PASSWORD }), 'A logs in for a JWT');
  const { jwt: orphanJwt } = await S2.account.createJWT();
  await deliver(subs, ['aAcc'], () => S2.account.deleteSession({ sessionId: 'current' }), 'A logs out of the JWT session');
  await refusedJwt(orphanJwt, 'a JWT of a deleted session');

  // --- An API key with only rows.read ---------------------------------------------------------------
  const created = await createKey(admin.client, { name: 'read only', scopes: ['rows.read'] });
  checkStatus('POST', '/keys', 201, 'POST /v1/keys');
  check.ok(typeof created.secret === 'string' && created.secret.length > 16, 'the new key has a secret');
  check.deepEqual([...created.scopes], ['rows.read'], 'the new key has the scope rows.read');
  const ro = nodeAdmin(node, { ...cfg, key: created.secret });
  const listed = await ro.tablesDB.listRows({ databaseId: db, tableId: T });
  check.ok(listed.total >= 4, `a rows.read key lists all rows (got ${listed.total})`);
  const someRow = listed.rows[0].$id;
  const refusedScope = async (fn, what) => {
    await deliver(subs, [], () => check.rejects(fn, { code: 401, type: 'general_unauthorized_scope' }, what), what);
  };
  await refusedScope(() => ro.tablesDB.createRow({ databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'ro' }, permissions: [Permission.read(Role.any())] }),
    'createRow with a rows.read key');
  await refusedScope(() => ro.tablesDB.createRows({ databaseId: db, tableId: T, rows: [{ title: 'ro', $permissions: [Permission.read(Role.any())] }] }),
    'createRows with a rows.read key');
  await refusedScope(() => ro.tablesDB.updateRow({ databaseId: db, tableId: T, rowId: someRow, data: { title: 'ro' } }), 'updateRow with a rows.read key');
  await refusedScope(() => ro.tablesDB.upsertRow({ databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'ro' } }), 'upsertRow with a rows.read key');
  await refusedScope(() => ro.tablesDB.deleteRow({ databaseId: db, tableId: T, rowId: someRow }), 'deleteRow with a rows.read key');
  await refusedScope(() => ro.tablesDB.createTable({ databaseId: db, tableId: 'nope', name: 'nope' }), 'createTable with a rows.read key');
  await refusedScope(() => createKey(ro.client, { name: 'escalate', scopes: ['*'] }), 'POST /v1/keys with a rows.read key');
  await check.rejects(() => A.run(() => createKey(A.client, { name: 'user key', scopes: ['*'] })),
    { code: 401, type: 'general_unauthorized_scope' }, 'POST /v1/keys as a user');
  const badKey = nodeAdmin(node, { ...cfg, key: `${created.secret}x` });
  await check.rejects(() => badKey.tablesDB.listRows({ databaseId: db, tableId: T }), { code: 401, type: 'user_unauthorized' }, 'an unknown API key');

  // The full key still writes, and the monitors are still listening.
  d = await deliver(subs, ['aT', 'gT', 'sT', 'oT', 'xT', 'yT', 'gAll'], publicRow('final'), 'final read("any") row');
  checkRowEvent(d.events.gT, { db, table: T, id: d.result.$id, action: 'create', subscriptions: [subs.gT.id, subs.gAll.id] });
  await deliver(subs, ['aT'], privateRow('final private'), 'final A private row');

  // A new user signing up while everyone listens: only that user could see users.U.create.
  const C = browser(web, cfg, 'C');
  await deliver(subs, [], () => C.account.create({ userId: ID.unique(), email: `carol-${uniq()}@example.com`, password: PASSWORD }),
    'a new user signs up');

  // Logging out everywhere: A's own live connection falls back to a guest.
  await deliver(subs, [], () => A.account.deleteSessions(), 'A deletes all its sessions');
  checkStatus('DELETE', '/account/sessions', 204, 'deleteSessions');
  await check.rejects(() => A.account.get(), { code: 401, type: 'general_unauthorized_scope' }, 'account.get after deleteSessions');
  await deliver(subs, [], () => tablesDB.createRow({
    databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'for A' }, permissions: [Permission.read(Role.user(UA))],
  }), 'read("user:A") row after A logged out everywhere');
  await deliver(subs, ['aT', 'gT', 'sT', 'oT', 'xT', 'yT', 'gAll'], publicRow('after logout everywhere'), 'read("any") row after A logged out everywhere');

  check.deepEqual(rt.A.errors, [], 'A: no onError callbacks');
  check.deepEqual(rt.G.errors, [], 'guest: no onError callbacks');
  check.deepEqual(rt.S.errors, [], 'the connection of the deleted session: no onError callbacks');
  for (const r of Object.values(rt)) await r.realtime.disconnect();
});
