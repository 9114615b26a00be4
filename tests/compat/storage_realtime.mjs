// Storage with the real SDKs: chunked uploads by a signed-in Web SDK user, realtime file
// events, downloads, and bad input.
// - node-appwrite (API key) creates a bucket granting create("users") and read("users").
// - A user signs up and logs in with the Web SDK and uploads, with storage.createFile, a 12 MiB
//   file (the SDK sends the first 5 MiB chunk alone, then the other chunks in parallel with
//   x-appwrite-id and content-range; onProgress reports each) and a 1 KiB file (one request).
// - The same user's Realtime subscriptions on `buckets.<B>.files` and `files` get exactly one
//   `create` event per file (10 event names, 6 channels, payload chunksUploaded == chunksTotal);
//   a guest subscribed to `buckets.<B>.files` gets nothing (the bucket has no guest read).
// - Downloads are byte-identical (sha256): node-appwrite getFileDownload (ArrayBuffer, API key);
//   the Web SDK's getFileDownload URL fetched with the user's session (also with Range).
// - A raw chunked upload with chunks out of order (0, 2, 1) fires one event, on the last chunk.
// - Bad input (wrong/out-of-bounds content-range, oversized file, disallowed extension, missing
//   bucket, path-like ids, no create permission, granting another user's role): each a 4xx with the Appwrite error type, no
//   event, nothing half-written (listFiles), an interrupted upload can still be finished, and
//   the server keeps serving.
import { randomBytes } from 'node:crypto';
import {
  browser, check, checkQuiet, checkResourceEvent, checkStatus, collector, deliver, env, fileChannels, httpLog,
  inBrowser, md5, nodeAdmin, rawFetch, resourceEvents, run, sha256, signedInBrowser, snapshot, uniq,
} from './harness.mjs';
import * as web from 'appwrite';
import * as node from 'node-appwrite';

const cfg = env();
const { Permission, Role, ID } = web;
const MiB = 1024 * 1024;
const CHUNK = 5 * MiB;

/** The POST …/files requests recorded since httpLog index `from`, for bucket `bid`. */
function uploadRequests(from, bid) {
  return httpLog.slice(from).filter((r) => r.method === 'POST' && r.path.split('?')[0].endsWith(`/storage/buckets/${bid}/files`));
}

/** One chunk as the SDKs send it: multipart fileId + file, content-range, x-appwrite-id after the first. */
function chunkForm(fileId, bytes, name) {
  const fd = new FormData();
  fd.append('fileId', fileId);
  fd.append('file', new Blob([bytes]), name);
  return fd;
}

run('storage_realtime', async () => {
  const { client: adminClient } = nodeAdmin(node, cfg);
  const admin = new node.Storage(adminClient);
  const B = `b${uniq()}`;
  const bucket = await admin.createBucket({
    bucketId: B, name: 'uploads', permissions: [Permission.create(Role.users()), Permission.read(Role.users())], fileSecurity: false,
  });
  checkStatus('POST', '/storage/buckets', 201, 'createBucket');
  check.equal(bucket.$id, B, 'bucket $id');
  check.sameSet(bucket.$permissions, ['create("users")', 'read("users")'], 'bucket $permissions');
  check.equal(bucket.fileSecurity, false, 'bucket fileSecurity');

  // --- The user and the subscribers -----------------------------------------------------------
  const U = await signedInBrowser(web, cfg, 'Uploader');
  const storage = inBrowser(U.b, new web.Storage(U.b.client));
  const G = browser(web, cfg, 'guest');
  const rt = { U: U.b.realtime(), G: G.realtime() };
  const subs = {};
  const add = async (name, conn, channel) => {
    const col = collector(name);
    subs[name] = { ...(await rt[conn].subscribe(channel, col.cb, [], name)), col, conn };
  };
  await add('bucketFiles', 'U', `buckets.${B}.files`);
  await add('files', 'U', 'files');
  await add('guestBucketFiles', 'G', `buckets.${B}.files`);

  /** The checks on the one `create` event of a completed file. */
  const checkFileEvent = (ev, file, what) => {
    checkResourceEvent(ev, {
      events: resourceEvents([['buckets', B], ['files', file.$id]], 'create'),
      channels: fileChannels(B, file.$id, 'create'),
      payloadId: file.$id,
    }, what);
    check.ok(ev.events.includes('buckets.*.files.*.create'), `${what}: events include buckets.*.files.*.create`);
    check.equal(ev.channels.length, 6, `${what}: 6 channels`);
    check.equal(ev.payload.bucketId, B, `${what}: payload.bucketId`);
    check.equal(ev.payload.chunksUploaded, ev.payload.chunksTotal, `${what}: payload.chunksUploaded == chunksTotal`);
    check.equal(ev.payload.chunksTotal, file.chunksTotal, `${what}: payload.chunksTotal`);
    check.equal(ev.payload.sizeOriginal, file.sizeOriginal, `${what}: payload.sizeOriginal`);
    check.equal(ev.payload.signature, file.signature, `${what}: payload.signature`);
  };

  // --- 12 MiB, chunked by the Web SDK ---------------------------------------------------------
  const big = randomBytes(12 * MiB);
  const bigId = ID.unique();
  const progress = [];
  let from = httpLog.length;
  const up = await deliver(subs, ['bucketFiles', 'files'], () => storage.createFile({
    bucketId: B, fileId: bigId, file: new File([big], 'big.bin'), onProgress: (p) => progress.push(p),
  }), '12 MiB chunked upload', { settleMs: 400 });
  const bigFile = up.result;
  check.equal(bigFile.$id, bigId, '12 MiB: $id');
  check.equal(bigFile.bucketId, B, '12 MiB: bucketId');
  check.equal(bigFile.name, 'big.bin', '12 MiB: name');
  check.equal(bigFile.sizeOriginal, big.length, '12 MiB: sizeOriginal');
  check.equal(bigFile.chunksTotal, 3, '12 MiB: chunksTotal');
  check.equal(bigFile.chunksUploaded, 3, '12 MiB: chunksUploaded (the SDK returns the completing response)');
  check.equal(bigFile.signature, md5(big), '12 MiB: signature is the md5 of the content');
  check.sameSet(bigFile.$permissions, [`read("user:${U.userId}")`, `update("user:${U.userId}")`, `delete("user:${U.userId}")`],
    '12 MiB: default permissions of a user upload');
  const reqs = uploadRequests(from, B);
  check.equal(reqs.length, 3, '12 MiB: three upload requests');
  check.equal(reqs[0].requestHeaders['content-range'], `bytes 0-${CHUNK - 1}/${big.length}`, 'first chunk: content-range');
  check.equal(reqs[0].requestHeaders['x-appwrite-id'], undefined, 'first chunk: no x-appwrite-id');
  check.sameSet(reqs.slice(1).map((r) => r.requestHeaders['content-range']),
    [`bytes ${CHUNK}-${2 * CHUNK - 1}/${big.length}`, `bytes ${2 * CHUNK}-${big.length - 1}/${big.length}`], 'later chunks: content-range');
  for (const r of reqs.slice(1)) check.equal(r.requestHeaders['x-appwrite-id'], bigId, 'later chunk: x-appwrite-id is the upload id');
  check.deepEqual(reqs.map((r) => r.status), [201, 201, 201], '12 MiB: every chunk answered 201');
  check.equal(progress.length, 3, `onProgress called once per chunk: ${JSON.stringify(progress)}`);
  check.deepEqual(progress[0], { $id: bigId, progress: 42, sizeUploaded: CHUNK, chunksTotal: 3, chunksUploaded: 1 }, 'onProgress after the first chunk');
  check.deepEqual(progress[2], { $id: bigId, progress: 100, sizeUploaded: big.length, chunksTotal: 3, chunksUploaded: 3 }, 'onProgress at the end');
  checkFileEvent(up.events.bucketFiles, bigFile, '12 MiB create event');

  // --- 1 KiB, one request ----------------------------------------------------------------------
  const small = randomBytes(1024);
  const smallId = ID.unique();
  from = httpLog.length;
  const upSmall = await deliver(subs, ['bucketFiles', 'files'],
    () => storage.createFile({ bucketId: B, fileId: smallId, file: new File([small], 'small.txt') }), '1 KiB upload');
  const smallFile = upSmall.result;
  const smallReqs = uploadRequests(from, B);
  check.equal(smallReqs.length, 1, '1 KiB: one request');
  check.equal(smallReqs[0].requestHeaders['content-range'], undefined, '1 KiB: no content-range');
  check.equal(smallReqs[0].status, 201, '1 KiB: 201');
  check.equal(smallFile.chunksTotal, 1, '1 KiB: chunksTotal');
  check.equal(smallFile.chunksUploaded, 1, '1 KiB: chunksUploaded');
  check.equal(smallFile.sizeOriginal, 1024, '1 KiB: sizeOriginal');
  check.equal(smallFile.signature, md5(small), '1 KiB: signature');
  checkFileEvent(upSmall.events.bucketFiles, smallFile, '1 KiB create event');

  // --- Downloads ---------------------------------------------------------------------------------
  for (const [f, bytes] of [[bigFile, big], [smallFile, small]]) {
    const ab = await admin.getFileDownload({ bucketId: B, fileId: f.$id });
    checkStatus('GET', `/files/${f.$id}/download`, 200, `node getFileDownload ${f.name}`);
    check.ok(ab instanceof ArrayBuffer, `node getFileDownload ${f.name} returns an ArrayBuffer`);
    check.equal(sha256(ab), sha256(bytes), `node getFileDownload ${f.name}: sha256`);

    const url = storage.getFileDownload({ bucketId: B, fileId: f.$id });
    check.equal(typeof url, 'string', `web getFileDownload ${f.name} builds a URL`);
    const u = new URL(url);
    check.equal(u.pathname, new URL(`${cfg.endpoint}/storage/buckets/${B}/files/${f.$id}/download`).pathname, 'download URL path');
    check.equal(u.searchParams.get('project'), cfg.project, 'download URL carries ?project=');
    const res = await fetch(url, { headers: { 'X-Appwrite-Session': U.token } });
    check.equal(res.status, 200, `web download ${f.name} with the session: status`);
    check.match(res.headers.get('content-disposition') ?? '', new RegExp(`^attachment; filename="${f.name}"`), `web download ${f.name}: content-disposition`);
    check.equal(sha256(Buffer.from(await res.arrayBuffer())), sha256(bytes), `web download ${f.name}: sha256`);
  }
  // Range across the first chunk boundary.
  const ranged = await fetch(storage.getFileDownload({ bucketId: B, fileId: bigId }),
    { headers: { 'X-Appwrite-Session': U.token, Range: `bytes=${CHUNK - 10}-${CHUNK + 9}` } });
  check.equal(ranged.status, 206, 'Range download: 206');
  check.equal(ranged.headers.get('content-range'), `bytes ${CHUNK - 10}-${CHUNK + 9}/${big.length}`, 'Range download: content-range');
  check.equal(Buffer.from(await ranged.arrayBuffer()).toString('hex'), big.subarray(CHUNK - 10, CHUNK + 10).toString('hex'), 'Range download: bytes');
  // A guest may not read this bucket.
  const guestDl = await fetch(storage.getFileDownload({ bucketId: B, fileId: smallId }));
  check.ok([401, 404].includes(guestDl.status), `guest download is refused (got ${guestDl.status})`);
  check.ok(!(await guestDl.text()).includes(small.toString('latin1').slice(0, 16)), 'guest download leaks no bytes');

  const listed = await admin.listFiles({ bucketId: B });
  check.equal(listed.total, 2, 'node listFiles: total');
  check.sameSet(listed.files.map((f) => f.$id), [bigId, smallId], 'node listFiles: ids');
  const mine = await storage.listFiles({ bucketId: B });
  check.sameSet(mine.files.map((f) => f.$id), [bigId, smallId], 'web listFiles (the user): ids');

  // --- Raw chunked upload, chunks out of order (0, then 2, then 1) ---------------------------------
  const ooo = randomBytes(2 * CHUNK + 4096);
  const oooId = ID.unique();
  const session = { 'X-Appwrite-Session': U.token };
  const part = (i) => ooo.subarray(i * CHUNK, Math.min((i + 1) * CHUNK, ooo.length));
  const range = (i) => `bytes ${i * CHUNK}-${Math.min((i + 1) * CHUNK, ooo.length) - 1}/${ooo.length}`;
  const sendChunk = (i, extra = {}) => rawFetch(cfg, 'POST', `/storage/buckets/${B}/files`, {
    headers: { ...session, 'content-range': range(i), ...(i ? { 'x-appwrite-id': oooId } : {}), ...extra },
    body: chunkForm(oooId, part(i), 'ooo.bin'),
  });
  let snap = snapshot(subs);
  const c0 = await sendChunk(0);
  check.equal(c0.status, 201, `out of order: chunk 0 → 201 (${c0.text.slice(0, 200)})`);
  check.equal(c0.json.chunksUploaded, 1, 'out of order: chunk 0 counted');
  const c2 = await sendChunk(2);
  check.equal(c2.status, 201, 'out of order: chunk 2 → 201');
  check.equal(c2.json.chunksUploaded, 2, 'out of order: chunk 2 counted');
  check.equal(c2.json.chunksTotal, 3, 'out of order: chunksTotal');
  await checkQuiet(subs, snap, 'out of order: no event before the last chunk');
  check.equal((await admin.listFiles({ bucketId: B })).total, 2, 'out of order: the unfinished upload is not listed');
  const upOoo = await deliver(subs, ['bucketFiles', 'files'], () => sendChunk(1), 'out of order: last chunk');
  check.equal(upOoo.result.status, 201, 'out of order: chunk 1 → 201');
  check.equal(upOoo.result.json.chunksUploaded, 3, 'out of order: complete');
  checkFileEvent(upOoo.events.bucketFiles, upOoo.result.json, 'out of order create event');
  check.equal(sha256(await admin.getFileDownload({ bucketId: B, fileId: oooId })), sha256(ooo), 'out of order: sha256 of the download');

  // --- Bad input ---------------------------------------------------------------------------------
  const BX = `bx${uniq()}`;
  await admin.createBucket({
    bucketId: BX, name: 'strict', permissions: [Permission.create(Role.users()), Permission.read(Role.users())],
    maximumFileSize: MiB, allowedFileExtensions: ['txt', 'bin'],
  });
  await add('strictFiles', 'U', `buckets.${BX}.files`);
  snap = snapshot(subs);
  const filesBefore = (await admin.listFiles({ bucketId: B })).files.map((f) => f.$id);

  const rawUpload = (bid, { fileId = ID.unique(), bytes = randomBytes(100), name = 'x.bin', headers = {} } = {}) =>
    rawFetch(cfg, 'POST', `/storage/buckets/${bid}/files`, { headers: { ...session, ...headers }, body: chunkForm(fileId, bytes, name) });
  const expectError = (res, status, type, what) => {
    check.equal(res.status, status, `${what}: HTTP status (body ${res.text.slice(0, 300)})`);
    check.equal(res.json?.type, type, `${what}: error type`);
    check.equal(res.json?.code, status, `${what}: error code in the body`);
    check.equal(typeof res.json?.message, 'string', `${what}: error message`);
  };

  // content-range
  expectError(await rawUpload(B, { headers: { 'content-range': 'bytes=0-99/100' } }), 400, 'storage_invalid_content_range', 'malformed content-range');
  expectError(await rawUpload(B, { headers: { 'content-range': 'bytes 0-99/50' } }), 400, 'storage_invalid_content_range', 'content-range end beyond the size');
  expectError(await rawUpload(B, { bytes: randomBytes(50), headers: { 'content-range': 'bytes 0-99/100' } }), 400,
    'storage_invalid_content_range', 'content-range longer than the chunk');
  expectError(await rawUpload(B, { headers: { 'content-range': 'bytes 99-0/100' } }), 400, 'storage_invalid_content_range', 'content-range start after end');

  // A chunk out of bounds in an upload that has started; the upload is still finishable.
  const partial = randomBytes(2 * CHUNK + 100);
  const partialId = ID.unique();
  const pRange = (s, e, size = partial.length) => `bytes ${s}-${e}/${size}`;
  const first = await rawUpload(B, { fileId: partialId, bytes: partial.subarray(0, CHUNK), name: 'partial.bin', headers: { 'content-range': pRange(0, CHUNK - 1) } });
  check.equal(first.status, 201, 'partial upload: first chunk accepted');
  expectError(await rawUpload(B, { fileId: partialId, bytes: randomBytes(100), name: 'partial.bin',
    headers: { 'x-appwrite-id': partialId, 'content-range': pRange(3 * CHUNK, 3 * CHUNK + 99) } }),
  400, 'storage_invalid_content_range', 'chunk starting beyond the end of the file');
  expectError(await rawUpload(B, { fileId: partialId, bytes: randomBytes(CHUNK), name: 'partial.bin',
    headers: { 'x-appwrite-id': partialId, 'content-range': pRange(100, CHUNK + 99) } }),
  400, 'storage_invalid_content_range', 'chunk not on a 5 MiB boundary');
  expectError(await rawUpload(B, { fileId: partialId, bytes: randomBytes(100), name: 'partial.bin',
    headers: { 'x-appwrite-id': partialId, 'content-range': pRange(2 * CHUNK, 2 * CHUNK + 199) } }),
  400, 'storage_invalid_content_range', 'last chunk longer than its body');
  await check.rejects(() => storage.getFile({ bucketId: B, fileId: partialId }), { code: 404, type: 'storage_file_not_found' },
    'an unfinished upload is not readable');
  check.sameSet((await admin.listFiles({ bucketId: B })).files.map((f) => f.$id), filesBefore, 'bad chunks: nothing new is listed');
  await checkQuiet(subs, snap, 'bad chunks publish nothing', 100);
  for (const i of [2, 1]) {
    const s = i * CHUNK;
    const e = Math.min(s + CHUNK, partial.length) - 1;
    const r = await rawUpload(B, { fileId: partialId, bytes: partial.subarray(s, e + 1), name: 'partial.bin',
      headers: { 'x-appwrite-id': partialId, 'content-range': pRange(s, e) } });
    check.equal(r.status, 201, `partial upload: chunk ${i} accepted after the refused ones`);
  }
  check.equal(sha256(await admin.getFileDownload({ bucketId: B, fileId: partialId })), sha256(partial),
    'partial upload finished after refused chunks: sha256 (refused chunks wrote nothing)');
  await subs.bucketFiles.col.waitCount(snap.bucketFiles + 1);
  snap = snapshot(subs);
  const filesNow = [...filesBefore, partialId];

  // Size and extension limits of the strict bucket (through the Web SDK).
  await check.rejects(() => storage.createFile({ bucketId: BX, fileId: ID.unique(), file: new File([randomBytes(2 * MiB)], 'two.bin') }),
    { code: 400, type: 'storage_invalid_file_size' }, 'file larger than maximumFileSize');
  await check.rejects(() => storage.createFile({ bucketId: BX, fileId: ID.unique(), file: new File([randomBytes(6 * MiB)], 'six.bin') }),
    { code: 400, type: 'storage_invalid_file_size' }, 'chunked file larger than maximumFileSize (first chunk refused)');
  await check.rejects(() => storage.createFile({ bucketId: BX, fileId: ID.unique(), file: new File([randomBytes(1024)], 'evil.exe') }),
    { code: 400, type: 'storage_file_type_unsupported' }, 'disallowed extension');
  await check.rejects(() => storage.createFile({ bucketId: BX, fileId: ID.unique(), file: new File([randomBytes(1024)], 'README') }),
    { code: 400, type: 'storage_file_type_unsupported' }, 'no extension in a bucket with allowedFileExtensions');
  check.equal((await admin.listFiles({ bucketId: BX })).total, 0, 'strict bucket: nothing was stored');

  // Missing bucket.
  const missing = `missing${uniq()}`;
  await check.rejects(() => storage.createFile({ bucketId: missing, fileId: ID.unique(), file: new File([small], 'a.txt') }),
    { code: 404, type: 'storage_bucket_not_found' }, 'createFile in a missing bucket');
  await check.rejects(() => storage.listFiles({ bucketId: missing }), { code: 404, type: 'storage_bucket_not_found' }, 'listFiles of a missing bucket');
  await check.rejects(() => admin.getFile({ bucketId: missing, fileId: smallId }), { code: 404, type: 'storage_bucket_not_found' }, 'getFile in a missing bucket');

  // Path-like and invalid ids.
  await check.rejects(() => storage.createFile({ bucketId: B, fileId: '../x', file: new File([small], 'a.txt') }),
    { code: 400, type: 'general_argument_invalid' }, 'fileId ../x');
  await check.rejects(() => storage.createFile({ bucketId: B, fileId: 'a'.repeat(37), file: new File([small], 'a.txt') }),
    { code: 400, type: 'general_argument_invalid' }, 'fileId of 37 characters');
  await check.rejects(() => admin.createBucket({ bucketId: '../x', name: 'x' }), { code: 400, type: 'general_argument_invalid' }, 'bucketId ../x');
  const badChunkId = await rawUpload(B, { headers: { 'x-appwrite-id': '../x', 'content-range': `bytes 0-${CHUNK - 1}/${CHUNK + 1}` }, bytes: randomBytes(CHUNK) });
  check.equal(badChunkId.status, 400, `x-appwrite-id ../x → 400 (${badChunkId.text.slice(0, 200)})`);

  // Granting a role the user does not hold.
  await check.rejects(() => storage.createFile({ bucketId: B, fileId: ID.unique(), file: new File([small], 'p.txt'), permissions: [Permission.read(Role.user('someoneelse'))] }),
    { code: 401, type: 'user_unauthorized' }, 'createFile granting read to another user');

  // No create permission: a guest.
  const guestStorage = inBrowser(G, new web.Storage(G.client));
  await check.rejects(() => guestStorage.createFile({ bucketId: B, fileId: ID.unique(), file: new File([small], 'g.txt') }),
    { code: 401, type: 'user_unauthorized' }, 'guest createFile without create permission');

  check.sameSet((await admin.listFiles({ bucketId: B })).files.map((f) => f.$id), filesNow, 'after all the bad input: the same files');
  await checkQuiet(subs, snap, 'refused uploads publish nothing', 200);

  // --- The server is still fine ----------------------------------------------------------------
  const health = await rawFetch(cfg, 'GET', '/health');
  check.equal(health.status, 200, 'health after the bad input');
  const after = randomBytes(2048);
  const upAfter = await deliver(subs, ['bucketFiles', 'files'],
    () => storage.createFile({ bucketId: B, fileId: ID.unique(), file: new File([after], 'after.bin') }), 'upload after the bad input');
  check.equal(upAfter.result.chunksUploaded, 1, 'upload after the bad input completes');
  check.equal(sha256(await admin.getFileDownload({ bucketId: B, fileId: upAfter.result.$id })), sha256(after), 'download after the bad input');
  // A path-like multipart filename is reduced to its base name (as PHP does for Appwrite).
  const upName = await deliver(subs, ['bucketFiles', 'files'],
    () => storage.createFile({ bucketId: B, fileId: ID.unique(), file: new File([after], '../../evil.txt') }), 'path-like filename');
  check.equal(upName.result.name, 'evil.txt', 'path-like filename: stored name');
  check.equal(sha256(await admin.getFileDownload({ bucketId: B, fileId: upName.result.$id })), sha256(after), 'path-like filename: download');
  check.equal(rt.U.errors.length, 0, `no realtime error frames for the user: ${JSON.stringify(rt.U.errors)}`);
}, { timeoutMs: 50000 });
