// Regression cases for server bugs once found by the storage/functions SDK drivers, one case each
// (RTCLI_CASE selects one; without it every case runs). tests/test_sdk_compat.py runs each case as
// its own test. Each entry below says what was wrong and what the server does now (what the case checks).
//
// - encoded_slash_in_ids: the SDKs encodeURIComponent path parameters, but the server routed on
//   the decoded path, so an id holding "/" reached another route: getFile({fileId:'a/download'})
//   returned the bytes of file `a`, getBucket({bucketId:'B/files/a'}) returned file `a`,
//   deleteBucket({bucketId:'B/files/a'}) deleted file `a`, getFile({fileId:'../x'}) was
//   404 general_route_not_found. Now the id stays one parameter (404 not found or 400
//   general_argument_invalid, as Appwrite's UID validator) and nothing else is touched.
// - guest_read_unauthorized: getFile / download in a bucket whose read permissions the caller
//   lacks (fileSecurity off) was 404 storage_file_not_found; now 401 user_unauthorized, as
//   Appwrite (Files/Get.php, Files/Download/Get.php) and rtcli's own listFiles answer.
// - chunk_resend_after_complete: re-sending a chunk (content-range + x-appwrite-id) of an upload
//   that is already complete was 409 storage_file_already_exists; now 200 with the File, as
//   Appwrite (Files/Create.php), so a client retrying a chunk whose response was lost succeeds.
// - scheduled_at: createExecution({scheduledAt}) ignored scheduledAt and ran the function at once;
//   now, as Appwrite, an async one is 202 with status `scheduled` and a sync one is 400
//   "Scheduled executions must run asynchronously" (the case also accepts a clear 4xx for async).
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import {
  browser, check, checkQuiet, collector, env, inBrowser, keyCall, nodeAdmin, nodeCommand, rawFetch, run, sha256,
  sleep, snapshot, uniq,
} from './harness.mjs';
import * as web from 'appwrite';
import * as node from 'node-appwrite';

const cfg = env();
const { Permission, Role, ID } = web;
const CHUNK = 5 * 1024 * 1024;
const HERE = path.dirname(fileURLToPath(import.meta.url));

/** Expect `fn` to reject with an AppwriteException whose (code, type) is one of `allowed`. */
async function rejectsWithOneOf(fn, allowed, what) {
  let err = null;
  let value;
  try { value = await fn(); } catch (e) { err = e; }
  check.ok(err, `${what}: expected one of ${JSON.stringify(allowed)}, but the call succeeded with ${JSON.stringify(value)?.slice(0, 300)}`);
  check.ok(allowed.some(([code, type]) => err.code === code && err.type === type),
    `${what}: expected one of ${JSON.stringify(allowed)}, got ${err.code} ${err.type} (${err.response})`);
}

function form(fileId, bytes, name) {
  const fd = new FormData();
  fd.append('fileId', fileId);
  fd.append('file', new Blob([bytes]), name);
  return fd;
}

async function bucketWithFile(admin, permissions, fileId = 'a', bytes = Buffer.from('hello bytes')) {
  const B = `kb${uniq()}`;
  await admin.createBucket({ bucketId: B, name: 'known bugs', permissions });
  const r = await rawFetch(cfg, 'POST', `/storage/buckets/${B}/files`, { headers: { 'X-Appwrite-Key': cfg.key }, body: form(fileId, bytes, 'a.txt') });
  check.equal(r.status, 201, `setup upload (${r.text.slice(0, 200)})`);
  return B;
}

const CASES = {
  async encoded_slash_in_ids({ admin, tablesDB }) {
    const B = await bucketWithFile(admin, [Permission.read(Role.any())]);
    const notFoundOrInvalid = (type) => [[404, type], [400, 'general_argument_invalid']];
    await rejectsWithOneOf(() => admin.getFile({ bucketId: B, fileId: 'a/download' }), notFoundOrInvalid('storage_file_not_found'),
      "getFile({fileId:'a/download'}) (must not return the bytes of file a)");
    await rejectsWithOneOf(() => admin.getFile({ bucketId: B, fileId: '../x' }), notFoundOrInvalid('storage_file_not_found'),
      "getFile({fileId:'../x'})");
    await rejectsWithOneOf(() => admin.getBucket({ bucketId: `${B}/files/a` }), notFoundOrInvalid('storage_bucket_not_found'),
      "getBucket({bucketId:'B/files/a'}) (must not return file a)");
    await rejectsWithOneOf(() => admin.deleteBucket({ bucketId: `${B}/files/a` }), notFoundOrInvalid('storage_bucket_not_found'),
      "deleteBucket({bucketId:'B/files/a'}) (must not delete file a)");
    const still = await admin.getFile({ bucketId: B, fileId: 'a' });
    check.equal(still.$id, 'a', 'file a survived deleteBucket of B/files/a');
    const db = `kdb${uniq()}`;
    await tablesDB.create({ databaseId: db, name: 'kb' });
    await tablesDB.createTable({ databaseId: db, tableId: 't', name: 't' });
    await tablesDB.createRow({ databaseId: db, tableId: 't', rowId: 'r', data: {} });
    await rejectsWithOneOf(() => tablesDB.getTable({ databaseId: db, tableId: 't/rows/r' }), notFoundOrInvalid('table_not_found'),
      "getTable({tableId:'t/rows/r'}) (must not return row r)");
  },

  async guest_read_unauthorized({ admin }) {
    const B = await bucketWithFile(admin, [Permission.read(Role.users())]);
    const G = browser(web, cfg, 'guest');
    const storage = inBrowser(G, new web.Storage(G.client));
    await check.rejects(() => storage.listFiles({ bucketId: B }), { code: 401, type: 'user_unauthorized' }, 'guest listFiles (already right)');
    await check.rejects(() => storage.getFile({ bucketId: B, fileId: 'a' }), { code: 401, type: 'user_unauthorized' }, 'guest getFile');
    const dl = await rawFetch(cfg, 'GET', `/storage/buckets/${B}/files/a/download`);
    check.equal(dl.status, 401, `guest download: status (${dl.text.slice(0, 200)})`);
    check.equal(dl.json?.type, 'user_unauthorized', 'guest download: type');
  },

  async chunk_resend_after_complete({ admin }) {
    const B = `kb${uniq()}`;
    await admin.createBucket({ bucketId: B, name: 'resend', permissions: [Permission.read(Role.any())] });
    const G = browser(web, cfg, 'guest');
    const rt = G.realtime();
    const col = collector('files');
    const sub = await rt.subscribe(`buckets.${B}.files`, col.cb, [], 'files');
    const subs = { files: { ...sub, col } };
    const data = randomBytes(CHUNK + 100);
    const F = ID.unique();
    const send = (i) => rawFetch(cfg, 'POST', `/storage/buckets/${B}/files`, {
      headers: {
        'X-Appwrite-Key': cfg.key, 'content-range': `bytes ${i * CHUNK}-${Math.min((i + 1) * CHUNK, data.length) - 1}/${data.length}`,
        ...(i ? { 'x-appwrite-id': F } : {}),
      },
      body: form(F, data.subarray(i * CHUNK, Math.min((i + 1) * CHUNK, data.length)), 'resend.bin'),
    });
    check.equal((await send(0)).status, 201, 'chunk 0');
    const last = await send(1);
    check.equal(last.status, 201, 'chunk 1 completes the upload');
    await col.waitCount(1);
    const snap = snapshot(subs);
    const again = await send(1);
    check.ok([200, 201].includes(again.status), `re-sent last chunk of a complete upload: 200 with the File (got ${again.status} ${again.text.slice(0, 200)})`);
    check.equal(again.json?.$id, F, 're-sent chunk: the File');
    check.equal(again.json?.chunksUploaded, 2, 're-sent chunk: chunksUploaded unchanged');
    await checkQuiet(subs, snap, 're-sent chunk: no second create event', 200);
    check.equal(sha256(await admin.getFileDownload({ bucketId: B, fileId: F })), sha256(data), 're-sent chunk: content unchanged');
  },

  async scheduled_at({ adminClient, adminFunctions }) {
    const F = `sched${uniq()}`;
    await keyCall(adminClient, 'post', '/functions', {
      functionId: F, name: 'sched', command: nodeCommand(path.join(HERE, 'functions', 'echo.mjs')), execute: ['any'],
    });
    const at = new Date(Date.now() + 3600 * 1000).toISOString();
    let asyncErr = null;
    let scheduled = null;
    try { scheduled = await adminFunctions.createExecution({ functionId: F, body: 'later', async: true, scheduledAt: at }); } catch (e) { asyncErr = e; }
    if (asyncErr) {
      check.ok(asyncErr.code >= 400 && asyncErr.code < 500, `async scheduledAt refused with a 4xx (got ${asyncErr.code} ${asyncErr.type})`);
    } else {
      check.equal(scheduled.status, 'scheduled', `async createExecution with scheduledAt: status (got ${scheduled.status})`);
      check.equal(scheduled.trigger, 'schedule', 'async createExecution with scheduledAt: trigger');
    }
    await rejectsWithOneOf(() => adminFunctions.createExecution({ functionId: F, body: 'later', async: false, scheduledAt: at }),
      [[400, 'general_bad_request'], [400, 'general_argument_invalid']], 'sync createExecution with scheduledAt');
    await sleep(1500);
    const list = await adminFunctions.listExecutions({ functionId: F });
    check.ok(list.executions.every((e) => e.status !== 'completed' && e.status !== 'processing'),
      `nothing ran an hour early: ${JSON.stringify(list.executions.map((e) => [e.status, e.trigger]))}`);
  },
};

run('storage_functions_bugs', async () => {
  const { client: adminClient, tablesDB } = nodeAdmin(node, cfg);
  const ctx = { adminClient, tablesDB, admin: new node.Storage(adminClient), adminFunctions: new node.Functions(adminClient) };
  const only = process.env.RTCLI_CASE;
  if (only && !CASES[only]) throw new Error(`unknown RTCLI_CASE ${only}; cases: ${Object.keys(CASES).join(', ')}`);
  for (const [name, fn] of Object.entries(CASES)) {
    if (only && name !== only) continue;
    try {
      await fn(ctx);
    } catch (e) {
      e.message = `[${name}] ${e.message}`;
      throw e;
    }
  }
});
