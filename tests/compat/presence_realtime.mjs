// Presence, with the real SDKs: the Web SDK's realtime.upsertPresence() (a `presence` message on
// the socket) and node-appwrite's Presences service (REST), with Appwrite's rules: a user has one
// presence (an upsert under another id updates it, keeping its id), readable by its user alone
// unless its permissions say otherwise, every upsert is a `presences.P.upsert` event; a key may
// give a presence to another user, who then owns it; A's realtime presence leaves with A's
// connection. User B watches the `presences` channel.
import { browser, check, collector, env, nodeAdmin, run, uniq, waitFor } from './harness.mjs';
import * as web from 'appwrite';
import * as node from 'node-appwrite';

const cfg = env();
const PASSWORD = 'correct horse battery';
const quiet = (ms) => new Promise((r) => setTimeout(r, ms));

async function signedIn(name) {
  const b = browser(web, cfg, name);
  const email = `${name.toLowerCase()}-${uniq()}@example.com`;
  const acc = await b.account.create({ userId: web.ID.unique(), email, password: PASSWORD, name });
  await b.account.createEmailPasswordSession({ email, password: PASSWORD });
  return { b, acc };
}

run('presence_realtime', async () => {
  nodeAdmin(node, cfg);
  const admin = new node.Client().setEndpoint(cfg.endpoint).setProject(cfg.project).setKey(cfg.key);
  const presences = new node.Presences(admin);
  const { b: A, acc: accA } = await signedIn('Ada');
  const { b: B, acc: accB } = await signedIn('Bob');
  const { acc: accC } = await signedIn('Cy');
  const shared = [web.Permission.read(web.Role.users())];

  const watch = collector('B presences');
  const rtB = B.realtime();
  await rtB.subscribe('presences', watch.cb, [], 'B on presences');

  const rtA = A.realtime();
  await rtA.subscribe('account', () => {}, [], 'A on account', { expectChannels: ['account', `account.${accA.$id}`] });
  const pid = `p-${uniq()}`;
  await A.run(() => rtA.realtime.upsertPresence({ status: 'online', presenceId: pid, metadata: { page: '/home' }, permissions: shared }));
  const first = await watch.waitCount(1);
  check.ok(first.events.includes(`presences.${pid}.upsert`), `upsert event: ${first.events}`);
  check.ok(first.channels.includes('presences') && first.channels.includes(`presences.${pid}`), 'presence channels');
  check.equal(first.payload.userId, accA.$id, 'the presence is A\'s');
  check.equal(first.payload.status, 'online', 'status online');
  check.equal(JSON.stringify(first.payload.metadata), JSON.stringify({ page: '/home' }), 'metadata');

  // Another id, same user: the one presence is updated and keeps its id.
  await A.run(() => rtA.realtime.upsertPresence({ status: 'away', presenceId: `other-${uniq()}`, permissions: shared }));
  const second = await watch.waitCount(2);
  check.ok(second.events.includes(`presences.${pid}.upsert`), `anchored to the first id: ${second.events}`);
  check.equal(second.payload.status, 'away', 'status away');
  await quiet(300);
  check.equal(watch.events.length, 2, 'one event per upsert, not a leave plus a join');
  const mine = await presences.list({ queries: [node.Query.equal('userId', accA.$id)] });
  check.equal(mine.total, 1, 'one presence per user');
  check.equal(mine.presences[0].source, 'realtime', 'source realtime');

  // Without permissions, a presence is its user's alone: B hears nothing.
  await A.run(() => rtA.realtime.upsertPresence({ status: 'hidden', presenceId: pid }));
  await waitFor(async () => (await presences.get({ presenceId: pid })).status === 'hidden', 5000, 'the private upsert');
  await quiet(300);
  check.equal(watch.events.length, 2, 'B does not hear a presence it may not read');
  const own = [`read("user:${accA.$id}")`, `update("user:${accA.$id}")`, `delete("user:${accA.$id}")`, `write("user:${accA.$id}")`];
  check.deepEqual([...(await presences.get({ presenceId: pid })).$permissions].sort(), own.sort(), 'owner-only by default');
  await A.run(() => rtA.realtime.upsertPresence({ status: 'online', presenceId: pid, permissions: shared }));
  await watch.waitCount(3);

  // REST: a key upserts B's presence (B owns it: B hears it), then gives it to C (B no longer may read it).
  const apiId = `api-${uniq()}`;
  const up = await presences.upsert({ presenceId: apiId, userId: accB.$id, status: 'busy', metadata: { via: 'api' } });
  check.equal(up.source, 'rest', 'source rest');
  const apiEvent = await watch.waitCount(4);
  check.ok(apiEvent.events.includes(`presences.${apiId}.upsert`), `an API upsert: ${apiEvent.events}`);
  const moved = await presences.update({ presenceId: apiId, userId: accC.$id, status: 'away' });
  check.equal(moved.userId, accC.$id, 'a key gives the presence to another user');
  check.ok(moved.$permissions.every((p) => p.includes(`user:${accC.$id}`)), `now C's alone: ${moved.$permissions}`);
  await quiet(300);
  check.equal(watch.events.length, 4, 'B does not hear the presence once it is C\'s');
  await presences.delete({ presenceId: apiId });

  rtA.realtime.disconnect();  // A's realtime presence leaves with its connection
  const gone = await watch.waitCount(5);
  check.ok(gone.events.includes(`presences.${pid}.delete`), `delete event when A disconnects: ${gone.events}`);
  await waitFor(async () => !(await presences.list()).presences.some((p) => p.$id === pid), 5000, 'the presence is gone');
});
