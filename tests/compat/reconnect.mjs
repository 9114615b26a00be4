// After the connection drops (close 1006, as on a network loss), the Web SDK reconnects after
// 1 s and re-subscribes on the new socket with the *original* subscription ids and queries;
// the server must accept them so delivery resumes with the same ids in `subscriptions`.
import {
  check, checkRowEvent, collector, deliver, env, nodeAdmin, run, setupTable, sockets, uniq, waitFor, webRealtime,
} from './harness.mjs';
import * as web from 'appwrite';
import * as node from 'node-appwrite';

const cfg = env();

run('reconnect', async () => {
  const { tablesDB } = nodeAdmin(node, cfg);
  const db = `db${uniq()}`;
  const table = 'items';
  await tablesDB.create({ databaseId: db, name: 'reconnect' });
  await setupTable(tablesDB, { db, table, permissions: [node.Permission.read(node.Role.any())] });

  const rt = webRealtime(web, cfg);
  let opens = 0;
  let closes = 0;
  rt.realtime.onOpen(() => { opens++; });
  rt.realtime.onClose(() => { closes++; });
  const subs = {};
  const add = async (name, channels, queries) => {
    const col = collector(name);
    subs[name] = { ...(await rt.subscribe(channels, col.cb, queries, name)), col };
  };
  const channel = `tablesdb.${db}.tables.${table}.rows`;
  await add('all', channel, []);
  await add('big', channel, [web.Query.greaterThan('n', 10)]);
  check.equal(opens, 1, 'one open before the drop');

  const create = (data) => () => tablesDB.createRow({ databaseId: db, tableId: table, rowId: node.ID.unique(), data });
  let d = await deliver(subs, ['all', 'big'], create({ title: 'before', n: 11 }), 'create before the drop');
  checkRowEvent(d.events.all, { db, table, id: d.result.$id, action: 'create', subscriptions: d.ids });

  // Drop the TCP connection without a close frame.
  sockets[0].socket.terminate();
  await waitFor(() => closes === 1, 3000, 'onClose after the drop');
  await waitFor(() => sockets.length === 2, 4000, 'the SDK to open a new socket (reconnect after 1 s)');
  const ack = await waitFor(() => sockets[1].frames.find((f) => f.dir === 'in' && f.msg?.type === 'response'
    && f.msg.data?.to === 'subscribe'
    && [subs.all.id, subs.big.id].every((id) => f.msg.data.subscriptions?.some((s) => s.subscriptionId === id))),
  5000, 'the server to acknowledge the re-subscription with the original ids');
  check.equal(ack.msg.data.success, true, `re-subscribe ack: ${ack.raw}`);
  const resent = sockets[1].frames.filter((f) => f.dir === 'out' && f.msg?.type === 'subscribe').flatMap((f) => f.msg.data);
  check.deepEqual(resent.map((s) => s.subscriptionId).sort(), [subs.all.id, subs.big.id].sort(), 'the SDK re-sent both original ids');
  check.equal(opens, 2, 'onOpen twice');

  d = await deliver(subs, ['all'], create({ title: 'after', n: 1 }), 'create after the reconnect (n=1)');
  checkRowEvent(d.events.all, { db, table, id: d.result.$id, action: 'create', columns: { title: 'after', n: 1 }, subscriptions: d.ids });
  d = await deliver(subs, ['all', 'big'], create({ title: 'after', n: 12 }), 'create after the reconnect (n=12)');
  checkRowEvent(d.events.big, { db, table, id: d.result.$id, action: 'create', columns: { n: 12 }, subscriptions: d.ids });

  check.ok(!sockets[1].frames.some((f) => f.dir === 'in' && f.msg?.type === 'error'), 'no error frames after the reconnect');
  check.equal(sockets.length, 2, 'exactly one reconnect');
  await rt.realtime.disconnect();
});
