// Scenario 7: the deprecated `client.subscribe(channels, cb)` path (its own socket code in
// the Web SDK) also receives row events, routed by `subscriptions`.
import {
  check, checkRowEvent, env, nodeAdmin, run, setupTable, sleep, sockets, uniq, waitFor,
} from './harness.mjs';
import * as web from 'appwrite';
import * as node from 'node-appwrite';

const cfg = env();

run('deprecated_subscribe', async () => {
  const { tablesDB } = nodeAdmin(node, cfg);
  const db = `db${uniq()}`;
  const table = 'legacy';
  await tablesDB.create({ databaseId: db, name: 'deprecated subscribe' });
  await setupTable(tablesDB, { db, table, permissions: [node.Permission.read(node.Role.any())] });

  const client = new web.Client().setEndpoint(cfg.endpoint).setProject(cfg.project);
  const got = [];
  const gotRows = [];
  const before = new Set(client.realtime.subscriptions.keys());
  const unsubscribe = client.subscribe(`tablesdb.${db}.tables.${table}.rows`, (m) => got.push(m));
  const id = [...client.realtime.subscriptions.keys()].find((k) => !before.has(k));
  const unsubscribeRows = client.subscribe(['rows'], (m) => gotRows.push(m));
  const idRows = [...client.realtime.subscriptions.keys()].find((k) => k !== id && !before.has(k));

  // The deprecated path opens its socket 50 ms later and subscribes after "connected".
  await waitFor(() => sockets[0]?.frames.some((f) => f.dir === 'in' && f.msg?.type === 'response'
    && f.msg.data?.to === 'subscribe'
    && [id, idRows].every((x) => f.msg.data.subscriptions?.some((s) => s.subscriptionId === x))), 5000,
  'the server to acknowledge both deprecated-path subscriptions');
  check.equal(sockets.length, 1, 'one socket for both subscriptions');
  check.match(sockets[0].url, new RegExp(`/v1/realtime\\?project=${cfg.project}$`), 'realtime URL');

  const row = await tablesDB.createRow({ databaseId: db, tableId: table, rowId: node.ID.unique(), data: { title: 'old', n: 1 } });
  await waitFor(() => got.length >= 1 && gotRows.length >= 1, 5000, 'the deprecated callbacks');
  await sleep(150);
  check.equal(got.length, 1, 'one callback for the table subscription');
  check.equal(gotRows.length, 1, 'one callback for the rows subscription');
  for (const ev of [got[0], gotRows[0]]) {
    checkRowEvent(ev, { db, table, id: row.$id, action: 'create', columns: { title: 'old', n: 1 }, subscriptions: [id, idRows] });
  }

  // After the local unsubscribe of one callback, the other still receives.
  unsubscribe();
  await sleep(100);
  const upd = await tablesDB.updateRow({ databaseId: db, tableId: table, rowId: row.$id, data: { n: 2 } });
  await waitFor(() => gotRows.length >= 2, 5000, 'the second event on the rows subscription');
  await sleep(150);
  check.equal(got.length, 1, 'no callback after unsubscribe');
  check.equal(gotRows.length, 2, 'the remaining subscription still receives');
  checkRowEvent(gotRows[1], { db, table, id: upd.$id, action: 'update', columns: { title: 'old', n: 2 } });

  // Removing the last subscription makes the SDK close its socket (client-side close, no reconnect).
  unsubscribeRows();
  await waitFor(() => sockets[0].closeCode !== null, 3000, 'the SDK to close its socket');
  await sleep(1500);
  check.equal(sockets.length, 1, 'no reconnect after the last unsubscribe');
});
