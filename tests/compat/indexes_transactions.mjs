// Indexes, transactions and the legacy Databases API through node-appwrite, with a Web SDK
// subscriber watching what each publishes.
// - tablesDB.createIndex (unique, fulltext) / listIndexes / getIndex / deleteIndex; a repeated
//   unique value is a 409 row_unique_constraint_violation; Query.search finds rows through the
//   fulltext index.
// - tablesDB.createTransaction / createOperations / createRow with transactionId / getTransaction
//   / updateTransaction (commit, rollback) / deleteTransaction: nothing reaches the subscriber
//   before the commit; on commit every event arrives, in the order staged; a rolled-back
//   transaction sends nothing.
// - databases.create / createCollection / createStringAttribute / createDocument / getDocument /
//   listDocuments / updateDocument / deleteDocument: a document event reaches a subscriber of
//   `databases.D.collections.C.documents` with the legacy names and `$collectionId`; the row
//   is the same through tablesDB.getRow.
import {
  check, checkStatus, collector, env, nodeAdmin, run, sleep, uniq, webRealtime,
} from './harness.mjs';
import * as web from 'appwrite';
import * as node from 'node-appwrite';

const cfg = env();
const { Permission, Role, Query } = node;

run('indexes_transactions', async () => {
  const { client, tablesDB } = nodeAdmin(node, cfg);
  const db = `db${uniq()}`;
  await tablesDB.create({ databaseId: db, name: 'main' });
  await tablesDB.createTable({ databaseId: db, tableId: 't', name: 't', permissions: [Permission.read(Role.any())] });
  await tablesDB.createVarcharColumn({ databaseId: db, tableId: 't', key: 'slug', size: 32, required: false });
  await tablesDB.createTextColumn({ databaseId: db, tableId: 't', key: 'body', required: false });

  // --- indexes ---------------------------------------------------------------------------
  const unique = await tablesDB.createIndex({ databaseId: db, tableId: 't', key: 'slug', type: 'unique', columns: ['slug'] });
  checkStatus('POST', `/tables/t/indexes`, 202, 'createIndex');
  check.equal(unique.status, 'available', 'a unique index is available at once');
  await tablesDB.createIndex({ databaseId: db, tableId: 't', key: 'text', type: 'fulltext', columns: ['body'] });
  check.equal((await tablesDB.listIndexes({ databaseId: db, tableId: 't' })).total, 2, 'listIndexes');
  check.equal((await tablesDB.getIndex({ databaseId: db, tableId: 't', key: 'text' })).type, 'fulltext', 'getIndex');
  await tablesDB.createRow({ databaseId: db, tableId: 't', rowId: 'a', data: { slug: 'a', body: 'quick brown fox' } });
  try {
    await tablesDB.createRow({ databaseId: db, tableId: 't', rowId: 'b', data: { slug: 'a' } });
    check.ok(false, 'a repeated unique value is refused');
  } catch (e) {
    check.equal(e.code, 409, 'unique violation: 409');
    check.equal(e.type, 'row_unique_constraint_violation', 'unique violation: its type');
  }
  const found = await tablesDB.listRows({ databaseId: db, tableId: 't', queries: [Query.search('body', 'fox')] });
  check.deepEqual(found.rows.map((r) => r.$id), ['a'], 'Query.search through the fulltext index');
  await tablesDB.deleteIndex({ databaseId: db, tableId: 't', key: 'slug' });
  checkStatus('DELETE', '/indexes/slug', 204, 'deleteIndex');

  // --- transactions ------------------------------------------------------------------------
  const rt = webRealtime(web, cfg);
  const rows = collector('rows');
  await rt.subscribe([`tablesdb.${db}.tables.t.rows`], rows.cb, [], 'rows of t');
  const tx = await tablesDB.createTransaction({ ttl: 120 });
  checkStatus('POST', '/tablesdb/transactions', 201, 'createTransaction');
  await tablesDB.createOperations({ transactionId: tx.$id, operations: [
    { action: 'create', databaseId: db, tableId: 't', rowId: 'r1', data: { slug: 'r1' } },
    { action: 'update', databaseId: db, tableId: 't', rowId: 'r1', data: { body: 'changed' } },
  ] });
  await tablesDB.createRow({ databaseId: db, tableId: 't', rowId: 'r2', data: { slug: 'r2' }, transactionId: tx.$id });
  check.equal((await tablesDB.getTransaction({ transactionId: tx.$id })).operations, 3, 'getTransaction: 3 staged');
  await sleep(300);
  check.equal(rows.events.length, 0, 'nothing is published before the commit');
  const done = await tablesDB.updateTransaction({ transactionId: tx.$id, commit: true });
  check.equal(done.status, 'committed', 'updateTransaction commit');
  await rows.waitCount(3);
  check.deepEqual(rows.events.map((e) => e.events[0]), [
    `tablesdb.${db}.tables.t.rows.r1.create`, `tablesdb.${db}.tables.t.rows.r1.update`,
    `tablesdb.${db}.tables.t.rows.r2.create`], 'the events of the commit, in the order staged');
  const back = await tablesDB.createTransaction({});
  await tablesDB.createOperations({ transactionId: back.$id, operations: [
    { action: 'delete', databaseId: db, tableId: 't', rowId: 'r1' }] });
  check.equal((await tablesDB.updateTransaction({ transactionId: back.$id, rollback: true })).status, 'rolled_back',
    'updateTransaction rollback');
  await sleep(300);
  check.equal(rows.events.length, 3, 'a rolled-back transaction publishes nothing');
  await tablesDB.getRow({ databaseId: db, tableId: 't', rowId: 'r1' });
  check.equal((await tablesDB.listTransactions({})).total >= 2, true, 'listTransactions');
  await tablesDB.deleteTransaction({ transactionId: back.$id });
  checkStatus('DELETE', `/tablesdb/transactions/${back.$id}`, 204, 'deleteTransaction');
  await rt.realtime.disconnect();

  // --- the legacy Databases API --------------------------------------------------------------
  const databases = new node.Databases(client);
  const ldb = `legacy${uniq()}`;
  check.equal((await databases.create({ databaseId: ldb, name: 'legacy' })).type, 'legacy', 'databases.create');
  await databases.createCollection({ databaseId: ldb, collectionId: 'posts', name: 'Posts',
    permissions: [Permission.read(Role.any())] });
  await databases.createStringAttribute({ databaseId: ldb, collectionId: 'posts', key: 'title', size: 64, required: false });
  const drt = webRealtime(web, cfg);
  const docs = collector('documents');
  await drt.subscribe([`databases.${ldb}.collections.posts.documents`], docs.cb, [], 'documents of posts');
  const doc = await databases.createDocument({ databaseId: ldb, collectionId: 'posts', documentId: 'd1',
    data: { title: 'hello' } });
  check.equal(doc.$collectionId, 'posts', 'createDocument: $collectionId');
  const ev = await docs.waitCount(1);
  check.ok(ev.events.includes(`databases.${ldb}.collections.posts.documents.d1.create`), 'the documents name');
  check.ok(ev.events.includes(`databases.${ldb}.tables.posts.rows.d1.create`), 'the rows name');
  check.equal(ev.payload.$collectionId, 'posts', 'the payload names the collection');
  check.equal((await databases.getDocument({ databaseId: ldb, collectionId: 'posts', documentId: 'd1' })).title, 'hello',
    'getDocument');
  check.equal((await databases.listDocuments({ databaseId: ldb, collectionId: 'posts' })).total, 1, 'listDocuments');
  await databases.updateDocument({ databaseId: ldb, collectionId: 'posts', documentId: 'd1', data: { title: 'bye' } });
  check.equal((await tablesDB.getRow({ databaseId: ldb, tableId: 'posts', rowId: 'd1' })).title, 'bye',
    'the document is a row through TablesDB');
  await databases.deleteDocument({ databaseId: ldb, collectionId: 'posts', documentId: 'd1' });
  await docs.waitCount(3);
  check.deepEqual(docs.events.map((e) => e.events[0].split('.').pop()), ['create', 'update', 'delete'],
    'document events in order');
  await drt.realtime.disconnect();
});
