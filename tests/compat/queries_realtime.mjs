// Scenario 2: several subscriptions with realtime queries on one socket. Only matching rows
// reach a filtered subscription; sub.update({queries}) and sub.update({channels}) change it;
// sub.unsubscribe() stops it while the others keep working. Comparisons are type-strict.
import {
  check, checkRowEvent, collector, deliver, env, nodeAdmin, run, setupTable, sockets, uniq, waitFor, webRealtime,
} from './harness.mjs';
import * as web from 'appwrite';
import * as node from 'node-appwrite';

const cfg = env();
const { Query } = web;

run('queries_realtime', async () => {
  const { tablesDB } = nodeAdmin(node, cfg);
  const db = `db${uniq()}`;
  const table = 'nums';
  const other = 'othertable';
  await tablesDB.create({ databaseId: db, name: 'queries realtime' });
  const readAny = [node.Permission.read(node.Role.any())];
  await setupTable(tablesDB, { db, table, permissions: readAny });
  await setupTable(tablesDB, { db, table: other, permissions: readAny });

  const channel = `tablesdb.${db}.tables.${table}.rows`;
  const otherChannel = `tablesdb.${db}.tables.${other}.rows`;
  const rt = webRealtime(web, cfg);
  const subs = {};
  const add = async (name, channels, queries) => {
    const col = collector(name);
    subs[name] = { ...(await rt.subscribe(channels, col.cb, queries, name)), col };
  };
  await add('all', channel, []);
  await add('eq2', channel, [Query.equal('n', [2])]);
  await add('eqString2', channel, [Query.equal('n', ['2'])]);                    // "2" !== 2: never matches
  await add('range', channel, [Query.greaterThanEqual('n', 2), Query.lessThan('n', 4)]); // ANDed: 2 <= n < 4
  await add('either', channel, [Query.or([Query.equal('n', [1]), Query.equal('title', ['zz'])])]);
  await add('selectAll', channel, [Query.select(['*'])]);                         // means "everything"
  await add('notNull', channel, [Query.isNotNull('title')]);
  check.equal(sockets.length, 1, 'all subscriptions share one socket');

  const rowArgs = { databaseId: db, tableId: table };
  const create = (data) => () => tablesDB.createRow({ ...rowArgs, rowId: node.ID.unique(), data });
  const expectCreate = (d, data, names) => {
    for (const ev of Object.values(d.events)) {
      checkRowEvent(ev, { db, table, id: d.result.$id, action: 'create', columns: data, subscriptions: names.map((n) => subs[n].id) });
    }
  };
  const step = async (data, names, what) => {
    const d = await deliver(subs, names, create(data), what);
    expectCreate(d, data, names);
    return d;
  };

  await step({ title: 'a', n: 1 }, ['all', 'either', 'selectAll', 'notNull'], 'create n=1');
  await step({ title: 'b', n: 2 }, ['all', 'eq2', 'range', 'selectAll', 'notNull'], 'create n=2');
  await step({ title: 'c', n: 3 }, ['all', 'range', 'selectAll', 'notNull'], 'create n=3');
  await step({ title: 'zz', n: 5 }, ['all', 'either', 'selectAll', 'notNull'], 'create n=5 title=zz');
  await step({ n: 2 }, ['all', 'eq2', 'range', 'selectAll'], 'create n=2 without title (title is null)');

  // Change eq2's filter to n == 3 (same subscription id).
  await rt.update(subs.eq2, { queries: [Query.equal('n', [3])] }, 'eq2 -> n=3');
  await step({ title: 'd', n: 2 }, ['all', 'range', 'selectAll', 'notNull'], 'create n=2 after update');
  await step({ title: 'e', n: 3 }, ['all', 'eq2', 'range', 'selectAll', 'notNull'], 'create n=3 after update');

  // Unsubscribe eq2: it stops, the others keep working.
  await rt.unsubscribe(subs.eq2, 'unsubscribe eq2');
  await step({ title: 'f', n: 3 }, ['all', 'range', 'selectAll', 'notNull'], 'create n=3 after unsubscribe');

  // Move `range` to another table's channel: it no longer sees this table, only the other one.
  await rt.update(subs.range, { channels: [otherChannel] }, 'range -> other table');
  await step({ title: 'g', n: 3 }, ['all', 'selectAll', 'notNull'], 'create n=3 after moving range away');
  const d = await deliver(subs, ['range'],
    () => tablesDB.createRow({ databaseId: db, tableId: other, rowId: node.ID.unique(), data: { title: 'o', n: 2 } }),
    'create n=2 in the other table');
  checkRowEvent(d.events.range, { db, table: other, id: d.result.$id, action: 'create', columns: { n: 2 }, subscriptions: [subs.range.id] });

  // A query method realtime does not support: error frame 1003 to onError, the socket stays open,
  // no subscription is created, and the other subscriptions keep working.
  const badCol = collector('bad');
  const errorsBefore = rt.errors.length;
  await rt.realtime.subscribe(channel, badCol.cb, [Query.startsWith('title', 'a')]);
  await waitFor(() => rt.errors.length > errorsBefore, 5000, 'onError for an unsupported realtime query');
  const err = rt.errors[errorsBefore];
  check.equal(err.code, 1003, `onError code for Query.startsWith (${JSON.stringify(err)})`);
  check.ok(/not supported in Realtime queries/.test(err.message) && /startsWith/.test(err.message),
    `onError message names the method: ${err.message}`);
  await step({ title: 'abc', n: 7 }, ['all', 'selectAll', 'notNull'], 'create after the rejected subscription');
  check.equal(badCol.events.length, 0, 'the rejected subscription receives nothing');
  check.equal(sockets[0].closeCode, null, 'the socket stays open after error 1003');
  rt.errors.splice(errorsBefore, 1);

  check.equal(subs.eqString2.col.events.length, 0, 'Query.equal("n", ["2"]) never matched the integer 2');
  check.deepEqual(rt.errors, [], 'no onError callbacks');
  check.equal(sockets.length, 1, 'no reconnects');
  await rt.realtime.disconnect();
});
