// Functions with the real SDKs: executions by a signed-in Web SDK user with realtime
// events, response formats, and event-triggered functions.
// - Functions are rtcli local commands (tests/compat/functions/*.mjs run with this Node),
//   created with the API key through node-appwrite's generic client.call (node-appwrite's
//   functions.create needs a runtime and has no `command`).
// - functions.createExecution({async: true}) by the user (function execute ["users"]): 202
//   `waiting`; the user's subscriptions on `executions` and `functions.<F>` get a `create` event,
//   then `update` events ending in `completed` with the echoed body (10 event names, 8 channels);
//   another user and a guest get nothing. A sync execution returns 201 `completed` with the
//   responseBody; `xpath` reaches the function as RTCLI_PATH.
// - The Web SDK (format 2.0.0) sees resourceId/resourceType; node-appwrite (1.9.5) sees
//   functionId instead. API-key executions publish nothing; a user lists only its own.
// - A row create (node-appwrite) triggers the event function
//   (events ["tablesdb.*.tables.<T>.rows.*.create"]); node-appwrite listExecutions shows its
//   execution with trigger `event` and the payload's $id in responseBody. Updates and rows of
//   other tables trigger nothing.
// - Refused: a guest, a user without execute rights, a missing function.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  browser, check, checkQuiet, checkResourceEvent, checkStatus, collector, env, executionChannels, inBrowser, keyCall,
  nodeAdmin, nodeCommand, resourceEvents, run, setupTable, signedInBrowser, sleep, snapshot, uniq, waitFor,
} from './harness.mjs';
import * as web from 'appwrite';
import * as node from 'node-appwrite';

const cfg = env();
const { ID, Permission, Role } = web;
const HERE = path.dirname(fileURLToPath(import.meta.url));
const handler = (name) => nodeCommand(path.join(HERE, 'functions', name));

run('functions_realtime', async () => {
  const { client: adminClient, tablesDB } = nodeAdmin(node, cfg);
  const adminFunctions = new node.Functions(adminClient);

  // --- Functions (API key, generic client.call) -------------------------------------------------
  const F = `echo${uniq()}`;
  const created = await keyCall(adminClient, 'post', '/functions', {
    functionId: F, name: 'echo', command: handler('echo.mjs'), execute: ['users'], timeout: 15,
  });
  checkStatus('POST', '/functions', 201, 'create function');
  check.equal(created.$id, F, 'function $id');
  check.deepEqual(created.execute, ['users'], 'function execute');
  const P = `private${uniq()}`;
  await keyCall(adminClient, 'post', '/functions', { functionId: P, name: 'private', command: handler('echo.mjs'), execute: [] });

  // --- Users and subscriptions ------------------------------------------------------------------
  const U = await signedInBrowser(web, cfg, 'Runner');
  const V = await signedInBrowser(web, cfg, 'Other');
  const G = browser(web, cfg, 'guest');
  const fnU = inBrowser(U.b, new web.Functions(U.b.client));
  const fnV = inBrowser(V.b, new web.Functions(V.b.client));
  const fnG = inBrowser(G, new web.Functions(G.client));
  const rt = { U: U.b.realtime(), V: V.b.realtime(), G: G.realtime() };
  const subs = {};
  const add = async (name, conn, channel) => {
    const col = collector(name);
    subs[name] = { ...(await rt[conn].subscribe(channel, col.cb, [], name)), col, conn };
  };
  await add('uExecutions', 'U', 'executions');
  await add('uFunction', 'U', `functions.${F}`);
  await add('vExecutions', 'V', 'executions');
  await add('vFunction', 'V', `functions.${F}`);
  await add('gExecutions', 'G', 'executions');
  const mine = [subs.uExecutions.id, subs.uFunction.id];

  const checkExecutionEvent = (ev, eid, action, what) => {
    checkResourceEvent(ev, {
      events: resourceEvents([['functions', F], ['executions', eid]], action),
      channels: executionChannels(cfg.project, F, eid, action),
      payloadId: eid,
      subscriptions: mine,
    }, what);
    check.ok(ev.events.includes(`functions.*.executions.*.${action}`), `${what}: events include functions.*.executions.*.${action}`);
    check.equal(ev.channels.length, 8, `${what}: 8 channels`);
    check.equal(ev.payload.resourceId, F, `${what}: payload.resourceId (newest format)`);
    check.equal(ev.payload.resourceType, 'functions', `${what}: payload.resourceType`);
    check.deepEqual(ev.payload.$permissions, [`read("user:${U.userId}")`], `${what}: payload.$permissions`);
  };
  const others = () => Object.fromEntries(Object.entries(subs).filter(([, s]) => s.conn !== 'U'));

  // --- Async execution by the user ------------------------------------------------------------------
  let snapOthers = snapshot(others());
  let before = subs.uExecutions.col.events.length;
  const asyncExec = await fnU.createExecution({ functionId: F, body: 'hello async', async: true });
  checkStatus('POST', `/functions/${F}/executions`, 202, 'async createExecution');
  const E = asyncExec.$id;
  check.equal(asyncExec.status, 'waiting', 'async execution: status waiting');
  check.equal(asyncExec.resourceId, F, 'async execution: resourceId (Web SDK, format 2.0.0)');
  check.equal(asyncExec.resourceType, 'functions', 'async execution: resourceType');
  check.equal(asyncExec.functionId, undefined, 'async execution: no functionId in format 2.0.0');
  check.equal(asyncExec.trigger, 'http', 'async execution: trigger');
  check.equal(asyncExec.responseBody, '', 'async execution: empty responseBody');
  await waitFor(() => subs.uExecutions.col.events.slice(before).some((e) => e.payload?.status === 'completed'), 15000,
    'the async execution to reach "completed" on the executions subscription');
  await sleep(300);
  const asyncEvents = subs.uExecutions.col.events.slice(before);
  const fnEvents = subs.uFunction.col.events.slice(before);
  check.deepEqual(asyncEvents.map((e) => e.payload.status), ['waiting', 'processing', 'completed'], 'async execution: statuses in order');
  check.deepEqual(fnEvents.map((e) => e.payload.$id), asyncEvents.map((e) => e.payload.$id), 'functions.<F> got the same events');
  checkExecutionEvent(asyncEvents[0], E, 'create', 'async execution: first event');
  for (const [i, ev] of asyncEvents.slice(1).entries()) checkExecutionEvent(ev, E, 'update', `async execution: update event ${i + 1}`);
  const done = asyncEvents.at(-1).payload;
  const out = JSON.parse(done.responseBody);
  check.equal(out.body, 'hello async', 'async execution: the function echoed its stdin');
  check.equal(out.path, '/', 'async execution: default path');
  check.equal(out.method, 'POST', 'async execution: default method');
  check.equal(out.trigger, 'http', 'async execution: RTCLI_TRIGGER');
  check.equal(out.userId, U.userId, 'async execution: RTCLI_USER_ID');
  check.equal(out.executionId, E, 'async execution: RTCLI_EXECUTION_ID');
  check.equal(done.responseStatusCode, 200, 'async execution: responseStatusCode');
  check.equal(done.logs, '', 'async execution event: no logs for a user');
  check.ok(done.duration > 0, 'async execution: duration');
  const got = await fnU.getExecution({ functionId: F, executionId: E });
  check.equal(got.status, 'completed', 'getExecution after completion: status');
  check.equal(got.responseBody, done.responseBody, 'getExecution: responseBody');
  check.equal(got.resourceId, F, 'getExecution: resourceId');
  check.equal(got.logs, '', 'getExecution by the user: logs hidden');
  await checkQuiet(others(), snapOthers, 'async execution: other users and guests get nothing', 100);

  // --- Sync execution with xpath -----------------------------------------------------------------
  snapOthers = snapshot(others());
  before = subs.uExecutions.col.events.length;
  const syncExec = await fnU.createExecution({
    functionId: F, body: 'hello sync', async: false, xpath: '/some/path?q=1', method: 'PUT', headers: { 'x-test': 'yes' },
  });
  checkStatus('POST', `/functions/${F}/executions`, 201, 'sync createExecution');
  check.equal(syncExec.status, 'completed', 'sync execution: status');
  check.equal(syncExec.responseStatusCode, 200, 'sync execution: responseStatusCode');
  check.equal(syncExec.requestPath, '/some/path?q=1', 'sync execution: requestPath');
  check.equal(syncExec.requestMethod, 'PUT', 'sync execution: requestMethod');
  check.equal(syncExec.resourceId, F, 'sync execution: resourceId');
  const syncOut = JSON.parse(syncExec.responseBody);
  check.equal(syncOut.body, 'hello sync', 'sync execution: echoed body');
  check.equal(syncOut.path, '/some/path?q=1', 'sync execution: xpath reached the function as RTCLI_PATH');
  check.equal(syncOut.method, 'PUT', 'sync execution: RTCLI_METHOD');
  const syncEv = await subs.uExecutions.col.waitCount(before + 1);
  await sleep(200);
  check.equal(subs.uExecutions.col.events.length, before + 1, 'sync execution: exactly one event');
  checkExecutionEvent(syncEv, syncExec.$id, 'create', 'sync execution event');
  check.equal(syncEv.payload.status, 'completed', 'sync execution event: status completed');
  await checkQuiet(others(), snapOthers, 'sync execution: other users and guests get nothing', 100);

  // --- node-appwrite (API key, response format 1.9.5) ------------------------------------------------
  const snapAll = snapshot(subs);
  const nodeExec = await adminFunctions.createExecution({ functionId: F, body: 'from node' });
  check.equal(nodeExec.functionId, F, 'node execution: functionId (format 1.9.5)');
  check.equal(nodeExec.resourceId, undefined, 'node execution: no resourceId');
  check.equal(nodeExec.resourceType, undefined, 'node execution: no resourceType');
  check.equal(nodeExec.status, 'completed', 'node execution: status');
  check.equal(JSON.parse(nodeExec.responseBody).body, 'from node', 'node execution: echoed body');
  check.equal(nodeExec.logs, 'echo ran\n', 'node execution: logs visible to the API key');
  check.deepEqual(nodeExec.$permissions, [], 'node execution: no permissions');
  const listed = await adminFunctions.listExecutions({ functionId: F });
  check.equal(listed.total, 3, 'node listExecutions: total');
  check.sameSet(listed.executions.map((e) => e.$id), [E, syncExec.$id, nodeExec.$id], 'node listExecutions: ids');
  for (const e of listed.executions) {
    check.equal(e.functionId, F, `node listExecutions ${e.$id}: functionId`);
    check.equal(e.resourceId, undefined, `node listExecutions ${e.$id}: no resourceId`);
  }
  const nodeGot = await adminFunctions.getExecution({ functionId: F, executionId: E });
  check.equal(nodeGot.functionId, F, 'node getExecution: functionId');
  check.equal(nodeGot.status, 'completed', 'node getExecution: status');
  await checkQuiet(subs, snapAll, 'an API-key execution publishes nothing', 200);
  const ownList = await fnU.listExecutions({ functionId: F });
  check.sameSet(ownList.executions.map((e) => e.$id), [E, syncExec.$id], 'the user lists only its own executions');
  check.equal((await fnV.listExecutions({ functionId: F })).total, 0, 'another user lists none');
  await check.rejects(() => fnU.getExecution({ functionId: F, executionId: nodeExec.$id }),
    { code: 404, type: 'execution_not_found' }, "the user cannot read the API key's execution");
  await check.rejects(() => fnV.getExecution({ functionId: F, executionId: E }),
    { code: 404, type: 'execution_not_found' }, "another user cannot read the user's execution");

  // --- Refused executions --------------------------------------------------------------------------
  await check.rejects(() => fnG.createExecution({ functionId: F, body: 'x' }), { code: 401, type: 'user_unauthorized' },
    'a guest may not execute a function with execute ["users"]');
  await check.rejects(() => fnU.createExecution({ functionId: P, body: 'x' }), { code: 401, type: 'user_unauthorized' },
    'a user may not execute a function with execute []');
  await check.rejects(() => fnU.createExecution({ functionId: `missing${uniq()}`, body: 'x' }), { code: 404, type: 'function_not_found' },
    'a missing function');
  check.equal((await adminFunctions.listExecutions({ functionId: P })).total, 0, 'refused executions are not recorded');
  await checkQuiet(subs, snapAll, 'refused executions publish nothing', 100);

  // --- Event-triggered function ------------------------------------------------------------------
  const db = `db${uniq()}`;
  const T = 'watched';
  const T2 = 'ignored';
  await tablesDB.create({ databaseId: db, name: 'functions' });
  await setupTable(tablesDB, { db, table: T, permissions: [Permission.read(Role.users())] });
  await setupTable(tablesDB, { db, table: T2, permissions: [Permission.read(Role.users())] });
  const H = `onrow${uniq()}`;
  const hfn = await keyCall(adminClient, 'post', '/functions', {
    functionId: H, name: 'on row', command: handler('on_row.mjs'), events: [`tablesdb.*.tables.${T}.rows.*.create`],
  });
  check.deepEqual(hfn.events, [`tablesdb.*.tables.${T}.rows.*.create`], 'event function: events');
  const row = await tablesDB.createRow({ databaseId: db, tableId: T, rowId: ID.unique(), data: { title: 'trigger me', n: 1 } });
  const execs = await waitFor(async () => {
    const l = await adminFunctions.listExecutions({ functionId: H });
    return l.executions.length && l.executions.every((e) => e.status === 'completed' || e.status === 'failed') ? l : null;
  }, 15000, 'the event-triggered execution to finish');
  check.equal(execs.total, 1, 'one execution for one row create');
  const ex = execs.executions[0];
  check.equal(ex.trigger, 'event', 'event execution: trigger');
  check.equal(ex.status, 'completed', `event execution: status (errors: ${ex.errors}, logs: ${ex.logs})`);
  check.equal(ex.functionId, H, 'event execution: functionId (node-appwrite)');
  const evOut = JSON.parse(ex.responseBody);
  check.equal(evOut.rowId, row.$id, "event execution: output is the payload's $id");
  check.equal(evOut.stdinRowId, row.$id, 'event execution: stdin carries the same payload');
  check.equal(evOut.trigger, 'event', 'event execution: RTCLI_TRIGGER');
  check.ok(evOut.event.endsWith(`.rows.${row.$id}.create`) && evOut.event.includes(`.tables.${T}.`),
    `event execution: RTCLI_EVENT names the row create (got ${evOut.event})`);
  // Neither an update nor a row of another table matches the pattern.
  await tablesDB.updateRow({ databaseId: db, tableId: T, rowId: row.$id, data: { n: 2 } });
  await tablesDB.createRow({ databaseId: db, tableId: T2, rowId: ID.unique(), data: { title: 'elsewhere' } });
  await sleep(800);
  check.equal((await adminFunctions.listExecutions({ functionId: H })).total, 1, 'no execution for an update or another table');
  await checkQuiet(subs, snapAll, 'event executions publish nothing', 100);
  for (const [who, r] of Object.entries(rt)) check.equal(r.errors.length, 0, `${who}: no realtime error frames: ${JSON.stringify(r.errors)}`);
}, { timeoutMs: 50000 });
