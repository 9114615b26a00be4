// Scenarios 3 and 4: delivery is gated by read permissions.
// - Tables without guest read (permissions [] or read("users")): the guest gets nothing,
//   although the rows are written (checked with the key).
// - rowSecurity on a table that grants guests nothing: a row with read("any") (or
//   read("guests")) reaches the guest, rows without such a permission do not; an update that
//   adds/removes the permission changes delivery accordingly.
import {
  check, checkRowEvent, collector, deliver, env, nodeAdmin, run, setupTable, sockets, uniq, webRealtime,
} from './harness.mjs';
import * as web from 'appwrite';
import * as node from 'node-appwrite';

const cfg = env();
const { Permission, Role, ID } = node;

run('permissions_realtime', async () => {
  const { tablesDB } = nodeAdmin(node, cfg);
  const db = `db${uniq()}`;
  await tablesDB.create({ databaseId: db, name: 'permissions realtime' });
  const T = { pub: 'pub', none: 'none', users: 'usersonly', rs: 'rowsec' };
  await setupTable(tablesDB, { db, table: T.pub, permissions: [Permission.read(Role.any())] });
  await setupTable(tablesDB, { db, table: T.none, permissions: [] });
  await setupTable(tablesDB, { db, table: T.users, permissions: [Permission.read(Role.users())] });
  await setupTable(tablesDB, { db, table: T.rs, permissions: [], rowSecurity: true });
  const tbl = await tablesDB.getTable({ databaseId: db, tableId: T.rs });
  check.equal(tbl.rowSecurity, true, 'getTable reports rowSecurity true');

  const rt = webRealtime(web, cfg);
  const subs = {};
  const add = async (name, channels) => {
    const col = collector(name);
    subs[name] = { ...(await rt.subscribe(channels, col.cb, [], name)), col };
  };
  for (const [name, t] of Object.entries(T)) await add(name, `tablesdb.${db}.tables.${t}.rows`);
  await add('rows', 'rows');
  await add('documents', 'documents.create');

  const create = (t, data, permissions) => () => tablesDB.createRow({
    databaseId: db, tableId: t, rowId: ID.unique(), data, ...(permissions ? { permissions } : {}),
  });

  // --- Scenario 3: tables the guest may not read.
  const written = { [T.none]: [], [T.users]: [] };
  for (const t of [T.none, T.users]) {
    let d = await deliver(subs, [], create(t, { title: 'secret', n: 1 }), `create in ${t}`);
    written[t].push(d.result.$id);
    d = await deliver(subs, [], () => tablesDB.updateRow({ databaseId: db, tableId: t, rowId: written[t][0], data: { n: 2 } }), `update in ${t}`);
    d = await deliver(subs, [], () => tablesDB.upsertRow({ databaseId: db, tableId: t, rowId: ID.unique(), data: { n: 3 } }), `upsert in ${t}`);
    written[t].push(d.result.$id);
    // Sentinel: the public table still delivers, so the guest socket is alive and in order.
    d = await deliver(subs, ['pub', 'rows', 'documents'], create(T.pub, { title: 'public', n: 1 }), `sentinel after ${t}`);
    checkRowEvent(d.events.pub, { db, table: T.pub, id: d.result.$id, action: 'create', subscriptions: d.ids });
  }
  for (const t of [T.none, T.users]) {
    const list = await tablesDB.listRows({ databaseId: db, tableId: t });
    check.equal(list.total, 2, `rows were written to ${t} (listRows with the key)`);
    check.deepEqual(list.rows.map((r) => r.$id).sort(), [...written[t]].sort(), `row ids in ${t}`);
  }
  await deliver(subs, [], () => tablesDB.deleteRow({ databaseId: db, tableId: T.none, rowId: written[T.none][0] }), 'delete in none');

  // --- Scenario 4: rowSecurity.
  let d = await deliver(subs, [], create(T.rs, { title: 'no perms', n: 1 }, []), 'rowSecurity: row without permissions');
  const hidden = d.result.$id;
  d = await deliver(subs, [], create(T.rs, { title: 'users only', n: 2 }, [Permission.read(Role.users())]), 'rowSecurity: row with read("users")');
  d = await deliver(subs, [], create(T.rs, { title: 'user x', n: 2 }, [Permission.read(Role.user('someone'))]), 'rowSecurity: row with read("user:someone")');
  d = await deliver(subs, [], create(T.rs, { title: 'update only', n: 2 }, [Permission.update(Role.any())]), 'rowSecurity: row with update("any") only');

  d = await deliver(subs, ['rs', 'rows', 'documents'],
    create(T.rs, { title: 'visible', n: 3 }, [Permission.read(Role.any())]), 'rowSecurity: row with read("any")');
  const visible = d.result.$id;
  check.deepEqual(d.result.$permissions, ['read("any")'], 'row $permissions as written');
  checkRowEvent(d.events.rs, { db, table: T.rs, id: visible, action: 'create', columns: { title: 'visible', n: 3 }, subscriptions: d.ids });
  check.deepEqual(d.events.rs.payload.$permissions, ['read("any")'], 'event payload $permissions');

  d = await deliver(subs, ['rs', 'rows', 'documents'],
    create(T.rs, { title: 'guests', n: 4 }, [Permission.read(Role.guests())]), 'rowSecurity: row with read("guests")');
  checkRowEvent(d.events.rs, { db, table: T.rs, id: d.result.$id, action: 'create', subscriptions: d.ids });

  // Adding read("any") to the hidden row: its update is delivered.
  d = await deliver(subs, ['rs', 'rows'], () => tablesDB.updateRow({
    databaseId: db, tableId: T.rs, rowId: hidden, data: { n: 10 }, permissions: [Permission.read(Role.any())],
  }), 'rowSecurity: update that grants read("any")');
  checkRowEvent(d.events.rs, { db, table: T.rs, id: hidden, action: 'update', columns: { n: 10 }, subscriptions: d.ids });

  // Removing it from the visible row: that update is not delivered.
  await deliver(subs, [], () => tablesDB.updateRow({
    databaseId: db, tableId: T.rs, rowId: visible, data: { n: 11 }, permissions: [],
  }), 'rowSecurity: update that removes read("any")');

  const rsRows = await tablesDB.listRows({ databaseId: db, tableId: T.rs });
  check.equal(rsRows.total, 6, 'all rowSecurity rows exist (listRows with the key)');

  check.deepEqual(rt.errors, [], 'no onError callbacks');
  check.equal(sockets.length, 1, 'no reconnects');
  await rt.realtime.disconnect();
});
