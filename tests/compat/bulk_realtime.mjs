// Bulk row writes, with the real SDKs: node-appwrite's tablesDB.updateRows, upsertRows and
// deleteRows (API key) while a guest Web SDK `Realtime` watches the table. Each row changed is
// one event with that row's own names, channels and payload, as Appwrite emits them, and a
// subscription with a realtime query sees only the rows it matches.
import { check, checkRowEvent, collector, env, nodeAdmin, run, setupTable, sleep, uniq, webRealtime } from './harness.mjs';
import * as web from 'appwrite';
import * as node from 'node-appwrite';

const cfg = env();

run('bulk_realtime', async () => {
  const { tablesDB } = nodeAdmin(node, cfg);
  const db = `db${uniq()}`;
  const table = 'bulk';
  await tablesDB.create({ databaseId: db, name: 'bulk realtime' });
  await setupTable(tablesDB, { db, table, permissions: [node.Permission.read(node.Role.any())] });
  const rowArgs = { databaseId: db, tableId: table };
  await tablesDB.createRows({ ...rowArgs, rows: [1, 2, 3, 4].map((n) => ({ $id: `r${n}`, title: n % 2 ? 'odd' : 'even', n })) });

  const rt = webRealtime(web, cfg);
  const all = collector('all');
  await rt.subscribe(web.Channel.tablesdb(db).table(table).row(), all.cb, [], 'all rows');
  const odd = collector('odd');
  await rt.subscribe(web.Channel.tablesdb(db).table(table).row(), odd.cb, [web.Query.equal('title', ['odd'])], 'odd rows');

  const settle = async (n, what) => {
    await all.waitCount(n);
    await sleep(200);
    check.equal(all.events.length, n, `${what}: exactly one event per row`);
  };

  // updateRows: the odd rows, one update event each.
  const updated = await tablesDB.updateRows({ ...rowArgs, data: { n: 10 }, queries: [node.Query.equal('title', ['odd'])] });
  check.equal(updated.total, 2, 'updateRows total');
  await settle(2, 'updateRows');
  for (const ev of all.events) checkRowEvent(ev, { db, table, id: ev.payload.$id, action: 'update', columns: { title: 'odd', n: 10 } });
  check.deepEqual(all.events.map((e) => e.payload.$id).sort(), ['r1', 'r3'], 'updateRows: the rows the queries match');
  check.equal(odd.events.length, 2, 'the odd-only subscription saw both');

  // upsertRows: one existing row, one new, one upsert event each.
  await tablesDB.upsertRows({ ...rowArgs, rows: [{ $id: 'r2', n: 20 }, { $id: 'r5', title: 'odd', n: 5 }] });
  await settle(4, 'upsertRows');
  const upserts = all.events.slice(2);
  for (const ev of upserts) checkRowEvent(ev, { db, table, id: ev.payload.$id, action: 'upsert' });
  check.deepEqual(upserts.map((e) => e.payload.$id).sort(), ['r2', 'r5'], 'upsertRows: both rows');
  check.equal(upserts.find((e) => e.payload.$id === 'r2').payload.title, 'even', 'an upsert keeps the columns it does not give');
  await odd.waitCount(3);
  check.equal(odd.last().payload.$id, 'r5', 'the odd-only subscription saw the new odd row, not r2');

  // deleteRows: every row, one delete event each.
  const deleted = await tablesDB.deleteRows({ ...rowArgs });
  check.equal(deleted.total, 5, 'deleteRows total');
  await settle(9, 'deleteRows');
  const deletes = all.events.slice(4);
  for (const ev of deletes) checkRowEvent(ev, { db, table, id: ev.payload.$id, action: 'delete' });
  check.deepEqual(deletes.map((e) => e.payload.$id).sort(), ['r1', 'r2', 'r3', 'r4', 'r5'], 'deleteRows: every row');
  check.equal((await tablesDB.listRows({ ...rowArgs })).total, 0, 'the table is empty');
});
