// Scenario 1: a guest Web SDK `Realtime` watches a public table (read("any")) while
// node-appwrite with the API key creates, updates, upserts, increments, decrements and
// deletes rows. Each operation must reach every matching subscription exactly once, with
// the right events, 16 channels, payload and `subscriptions`.
import {
  check, checkRow, checkRowEvent, checkStatus, collector, deliver, env, nodeAdmin, run,
  setupTable, sockets, uniq, waitFor, webRealtime,
} from './harness.mjs';
import * as web from 'appwrite';
import * as node from 'node-appwrite';

const cfg = env();

run('rows_realtime', async () => {
  const { tablesDB } = nodeAdmin(node, cfg);
  const db = `db${uniq()}`;
  const table = 'items';
  await tablesDB.create({ databaseId: db, name: 'rows realtime' });
  await setupTable(tablesDB, { db, table, permissions: [node.Permission.read(node.Role.any())] });

  const r1 = node.ID.unique();
  const r2 = node.ID.unique();

  // Guest subscriber (no session, no JWT).
  const rt = webRealtime(web, cfg);
  const subs = {};
  const add = async (name, channels) => {
    const col = collector(name);
    const h = await rt.subscribe(channels, col.cb, [], name);
    subs[name] = { ...h, col };
  };
  await add('table', web.Channel.tablesdb(db).table(table).row());          // tablesdb.D.tables.T.rows
  await add('multi', ['rows', 'documents']);                                 // two channels, both match: one callback
  await add('creates', `tablesdb.${db}.tables.${table}.rows.create`);       // only create events
  await add('row1', web.Channel.tablesdb(db).table(table).row(r1));         // only row r1
  await add('other', `tablesdb.${db}.tables.nosuchtable.rows`);             // never matches

  // The handshake as the SDK saw it.
  check.equal(sockets.length, 1, 'one socket for all subscriptions');
  check.match(sockets[0].url, new RegExp(`/v1/realtime\\?project=${cfg.project}$`), 'realtime URL');
  const first = sockets[0].frames.find((f) => f.dir === 'in');
  check.equal(first?.msg?.type, 'connected', `first server frame is "connected": ${first?.raw}`);
  check.deepEqual(first.msg.data, { channels: [], subscriptions: [], user: null }, 'connected data for a guest');
  check.ok(!sockets[0].frames.some((f) => f.dir === 'out' && f.msg?.type === 'authentication'), 'a guest sends no authentication');

  const expectRow = (ev, id, action, columns, subNames) => checkRowEvent(ev, {
    db, table, id, action, columns, subscriptions: subNames.map((n) => subs[n].id),
  });
  const rowArgs = { databaseId: db, tableId: table };

  // create
  let d = await deliver(subs, ['table', 'multi', 'creates', 'row1'],
    () => tablesDB.createRow({ ...rowArgs, rowId: r1, data: { title: 'a', n: 1 } }), 'createRow');
  checkStatus('POST', `/tablesdb/${db}/tables/${table}/rows`, 201, 'createRow');
  checkRow(d.result, { db, table, id: r1, columns: { title: 'a', n: 1 } }, 'createRow response');
  check.deepEqual(d.result.$permissions, [], 'a row written by the key without permissions has $permissions []');
  for (const ev of Object.values(d.events)) expectRow(ev, r1, 'create', { title: 'a', n: 1 }, ['table', 'multi', 'creates', 'row1']);
  check.equal(d.events.table.payload.$sequence, d.result.$sequence, 'event payload $sequence equals the REST row');

  // update (PATCH)
  d = await deliver(subs, ['table', 'multi', 'row1'],
    () => tablesDB.updateRow({ ...rowArgs, rowId: r1, data: { title: 'b' } }), 'updateRow');
  checkStatus('PATCH', `/rows/${r1}`, 200, 'updateRow');
  checkRow(d.result, { db, table, id: r1, columns: { title: 'b', n: 1 } }, 'updateRow response');
  for (const ev of Object.values(d.events)) expectRow(ev, r1, 'update', { title: 'b', n: 1 }, ['table', 'multi', 'row1']);

  // upsert of an existing row (PUT): action "upsert"
  d = await deliver(subs, ['table', 'multi', 'row1'],
    () => tablesDB.upsertRow({ ...rowArgs, rowId: r1, data: { title: 'c', n: 7 } }), 'upsertRow (existing)');
  checkStatus('PUT', `/rows/${r1}`, 200, 'upsertRow (existing)');
  checkRow(d.result, { db, table, id: r1, columns: { title: 'c', n: 7 } }, 'upsertRow response');
  for (const ev of Object.values(d.events)) expectRow(ev, r1, 'upsert', { title: 'c', n: 7 }, ['table', 'multi', 'row1']);

  // upsert that creates a row: still action "upsert" (so no rows.create subscriber)
  d = await deliver(subs, ['table', 'multi'],
    () => tablesDB.upsertRow({ ...rowArgs, rowId: r2, data: { title: 'u', n: 2 } }), 'upsertRow (new)');
  checkStatus('PUT', `/rows/${r2}`, 200, 'upsertRow (new)');
  checkRow(d.result, { db, table, id: r2, columns: { title: 'u', n: 2 } }, 'upsertRow (new) response');
  for (const ev of Object.values(d.events)) expectRow(ev, r2, 'upsert', { title: 'u', n: 2 }, ['table', 'multi']);

  // increment: action "update"
  d = await deliver(subs, ['table', 'multi', 'row1'],
    () => tablesDB.incrementRowColumn({ ...rowArgs, rowId: r1, column: 'n', value: 5 }), 'incrementRowColumn');
  checkStatus('PATCH', `/rows/${r1}/n/increment`, 200, 'incrementRowColumn');
  check.equal(d.result.n, 12, 'incrementRowColumn response n');
  for (const ev of Object.values(d.events)) expectRow(ev, r1, 'update', { title: 'c', n: 12 }, ['table', 'multi', 'row1']);

  // decrement: action "update"
  d = await deliver(subs, ['table', 'multi', 'row1'],
    () => tablesDB.decrementRowColumn({ ...rowArgs, rowId: r1, column: 'n', value: 2 }), 'decrementRowColumn');
  checkStatus('PATCH', `/rows/${r1}/n/decrement`, 200, 'decrementRowColumn');
  check.equal(d.result.n, 10, 'decrementRowColumn response n');
  for (const ev of Object.values(d.events)) expectRow(ev, r1, 'update', { title: 'c', n: 10 }, ['table', 'multi', 'row1']);

  // delete: payload is the deleted row
  d = await deliver(subs, ['table', 'multi', 'row1'],
    () => tablesDB.deleteRow({ ...rowArgs, rowId: r1 }), 'deleteRow');
  checkStatus('DELETE', `/rows/${r1}`, 204, 'deleteRow');
  for (const ev of Object.values(d.events)) expectRow(ev, r1, 'delete', { title: 'c', n: 10 }, ['table', 'multi', 'row1']);

  // The guest can read the public table through the Web SDK's REST client too.
  const webTables = new web.TablesDB(rt.client);
  const listed = await webTables.listRows({ databaseId: db, tableId: table });
  check.equal(listed.total, 1, 'guest listRows total (only r2 is left)');
  check.equal(listed.rows[0]?.$id, r2, 'guest listRows sees r2');
  const got = await webTables.getRow({ databaseId: db, tableId: table, rowId: r2 });
  checkRow(got, { db, table, id: r2, columns: { title: 'u', n: 2 } }, 'guest getRow');

  // The SDK's heartbeat frame (sent every 20 s) gets a pong; send one now instead of waiting.
  const before = sockets[0].frames.length;
  rt.realtime.socket.send(JSON.stringify({ type: 'ping' }));
  const pong = await waitFor(() => sockets[0].frames.slice(before).find((f) => f.dir === 'in'), 5000, 'a reply to ping');
  check.deepEqual(pong.msg, { type: 'pong' }, 'ping is answered with {"type":"pong"}');

  check.deepEqual(rt.errors, [], 'no onError callbacks');
  check.equal(sockets.length, 1, 'no reconnects');
  check.equal(sockets[0].closeCode, null, 'socket still open');
  await rt.realtime.disconnect();
});
