// Scenario 5: node-appwrite REST round trips against TablesDB, status codes included, plus
// bulk createRows (one realtime event per row) and the error envelope.
import {
  check, checkRow, checkRowEvent, checkStatus, collector, env, lastRequest, nodeAdmin, run, sleep, sockets, uniq,
  waitColumns, webRealtime,
} from './harness.mjs';
import * as web from 'appwrite';
import * as node from 'node-appwrite';

const cfg = env();
const { Query, Permission, Role, ID } = node;

run('rest_roundtrip', async () => {
  const { tablesDB } = nodeAdmin(node, cfg);
  const db = `db${uniq()}`;
  const table = 'things';

  // Database
  const database = await tablesDB.create({ databaseId: db, name: 'REST round trip' });
  checkStatus('POST', '/tablesdb', 201, 'tablesDB.create');
  check.equal(database.$id, db, 'database $id');
  check.equal(database.name, 'REST round trip', 'database name');
  check.equal(database.type, 'tablesdb', 'database type');
  check.equal(database.enabled, true, 'database enabled');

  // Table
  const t = await tablesDB.createTable({
    databaseId: db, tableId: table, name: 'Things', permissions: [Permission.read(Role.any())], rowSecurity: false,
  });
  checkStatus('POST', `/tablesdb/${db}/tables`, 201, 'createTable');
  check.equal(t.$id, table, 'table $id');
  check.equal(t.name, 'Things', 'table name');
  check.equal(t.databaseId, db, 'table databaseId');
  check.equal(t.rowSecurity, false, 'table rowSecurity');
  check.deepEqual(t.$permissions, ['read("any")'], 'table $permissions');
  check.ok(Array.isArray(t.columns), 'table columns is an array');

  // Columns (202)
  const c1 = await tablesDB.createStringColumn({ databaseId: db, tableId: table, key: 'title', size: 64, required: false });
  checkStatus('POST', `/tables/${table}/columns/string`, 202, 'createStringColumn');
  check.equal(c1.key, 'title', 'string column key');
  check.equal(c1.type, 'string', 'string column type');
  check.equal(c1.size, 64, 'string column size');
  check.equal(c1.required, false, 'string column required');
  check.ok(['processing', 'available'].includes(c1.status), `string column status (${c1.status})`);
  const c2 = await tablesDB.createIntegerColumn({ databaseId: db, tableId: table, key: 'n', required: false });
  checkStatus('POST', `/tables/${table}/columns/integer`, 202, 'createIntegerColumn');
  check.equal(c2.key, 'n', 'integer column key');
  check.equal(c2.type, 'integer', 'integer column type');
  await waitColumns(tablesDB, db, table, ['title', 'n']);

  const rowArgs = { databaseId: db, tableId: table };

  // A guest subscriber to count the bulk-create events.
  const rt = webRealtime(web, cfg);
  const col = collector('table');
  const { id: subId } = await rt.subscribe(`tablesdb.${db}.tables.${table}.rows`, col.cb, [], 'table rows');

  // Single create / get
  const first = await tablesDB.createRow({ ...rowArgs, rowId: ID.unique(), data: { title: 'a', n: 1 } });
  checkStatus('POST', `/tablesdb/${db}/tables/${table}/rows`, 201, 'createRow');
  checkRow(first, { db, table, id: first.$id, columns: { title: 'a', n: 1 } }, 'createRow');
  check.match(first.$id, /^[0-9a-f]{20}$/, 'ID.unique() is kept as the row id');
  const fetched = await tablesDB.getRow({ ...rowArgs, rowId: first.$id });
  checkStatus('GET', `/rows/${first.$id}`, 200, 'getRow');
  checkRow(fetched, { db, table, id: first.$id, columns: { title: 'a', n: 1 } }, 'getRow');
  check.equal(fetched.$sequence, first.$sequence, 'getRow $sequence equals createRow');
  check.equal(fetched.$createdAt, first.$createdAt, 'getRow $createdAt equals createRow');
  await col.waitCount(1);

  // Bulk create: body {rows:[…]} on the same path, 201 {total, rows}, one event per row.
  const bulk = [2, 3, 4, 5, 6].map((n) => ({ $id: `bulk${n}`, title: n % 2 ? 'a' : 'b', n }));
  const created = await tablesDB.createRows({ ...rowArgs, rows: bulk });
  checkStatus('POST', `/tablesdb/${db}/tables/${table}/rows`, 201, 'createRows');
  const bulkReq = lastRequest('POST', `/tables/${table}/rows`);
  check.ok(JSON.parse(bulkReq.body).rows?.length === 5, `createRows sends {rows:[…]} (body ${bulkReq.body.slice(0, 120)})`);
  check.equal(created.total, 5, 'createRows total');
  check.equal(created.rows.length, 5, 'createRows rows');
  for (const b of bulk) {
    const row = created.rows.find((r) => r.$id === b.$id);
    check.ok(row, `createRows returned ${b.$id}`);
    checkRow(row, { db, table, id: b.$id, columns: { title: b.title, n: b.n } }, `createRows ${b.$id}`);
  }
  await col.waitCount(6);
  await sleep(200);
  check.equal(col.events.length, 6, 'one realtime event per bulk-created row (plus the single create)');
  const bulkEvents = col.events.slice(1);
  check.deepEqual(bulkEvents.map((e) => e.payload.$id).sort(), bulk.map((b) => b.$id).sort(), 'bulk event payload ids');
  for (const ev of bulkEvents) {
    const b = bulk.find((x) => x.$id === ev.payload.$id);
    checkRowEvent(ev, { db, table, id: b.$id, action: 'create', columns: { title: b.title, n: b.n }, subscriptions: [subId] });
  }

  // listRows with queries
  let list = await tablesDB.listRows({ ...rowArgs, queries: [Query.equal('title', ['b'])] });
  checkStatus('GET', `/tables/${table}/rows`, 200, 'listRows');
  const lastList = lastRequest('GET', `/tables/${table}/rows`);
  check.ok(lastList.path.includes('queries[0]={"method":"equal","attribute":"title","values":["b"]}'), `listRows sends queries[0]=… (${lastList.path})`);
  check.equal(list.total, 3, 'listRows equal(title, b) total');
  check.deepEqual(list.rows.map((r) => r.n).sort(), [2, 4, 6], 'listRows equal(title, b) rows');

  list = await tablesDB.listRows({ ...rowArgs, queries: [Query.equal('title', ['b']), Query.orderDesc('n'), Query.limit(2)] });
  check.deepEqual(list.rows.map((r) => r.n), [6, 4], 'listRows equal + orderDesc + limit(2): first page');
  check.equal(list.total, 3, 'listRows total counts all matches, not just the page');

  const page2 = await tablesDB.listRows({
    ...rowArgs, queries: [Query.equal('title', ['b']), Query.orderDesc('n'), Query.limit(2), Query.cursorAfter(list.rows[1].$id)],
  });
  check.deepEqual(page2.rows.map((r) => r.n), [2], 'listRows cursorAfter: second page');

  const all = await tablesDB.listRows({ ...rowArgs, queries: [Query.orderDesc('n')] });
  check.deepEqual(all.rows.map((r) => r.n), [6, 5, 4, 3, 2, 1], 'listRows orderDesc(n)');
  check.equal(all.total, 6, 'listRows total');
  const asc = await tablesDB.listRows({ ...rowArgs, queries: [Query.orderAsc('n'), Query.limit(3), Query.cursorAfter('bulk3')] });
  check.deepEqual(asc.rows.map((r) => r.n), [4, 5, 6], 'listRows orderAsc + cursorAfter');

  // Errors
  const e404 = await check.rejects(() => tablesDB.getRow({ ...rowArgs, rowId: 'missing-row' }), { code: 404, type: 'row_not_found' }, 'getRow on a missing id');
  const body404 = JSON.parse(e404.response);
  check.equal(body404.code, 404, 'error body code');
  check.equal(body404.type, 'row_not_found', 'error body type');
  check.equal(typeof body404.message, 'string', 'error body message');
  check.ok('version' in body404, 'error body version');
  await check.rejects(() => tablesDB.createRow({ ...rowArgs, rowId: ID.unique(), data: { title: 'x', nope: 1 } }),
    { code: 400, type: 'row_invalid_structure' }, 'createRow with an unknown column');
  await check.rejects(() => tablesDB.createRow({ ...rowArgs, rowId: first.$id, data: { title: 'dup' } }),
    { code: 409, type: 'row_already_exists' }, 'createRow with an existing id');
  await check.rejects(() => tablesDB.getTable({ databaseId: db, tableId: 'nosuchtable' }),
    { code: 404, type: 'table_not_found' }, 'getTable on a missing table');
  await check.rejects(() => tablesDB.listRows({ databaseId: 'nosuchdb', tableId: table }),
    { code: 404, type: 'database_not_found' }, 'listRows in a missing database');

  // No event for the failed writes.
  await sleep(200);
  check.equal(col.events.length, 6, 'failed writes publish no events');
  check.deepEqual(rt.errors, [], 'no onError callbacks');
  check.equal(sockets.length, 1, 'no reconnects');
  await rt.realtime.disconnect();
});
