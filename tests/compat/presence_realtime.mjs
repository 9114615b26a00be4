// Presence, with the real SDKs: the Web SDK's realtime.upsertPresence() (a `presence` message on
// the socket) and node-appwrite's Presences service (REST). User B watches the `presences`
// channel: A's presence appears (create), a change of status is one update (not a leave plus a
// join), an API upsert is seen too, and A's realtime presence leaves with A's connection.
import { browser, check, collector, env, nodeAdmin, run, uniq, waitFor } from './harness.mjs';
import * as web from 'appwrite';
import * as node from 'node-appwrite';

const cfg = env();
const PASSWORD = 'correct horse battery';

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
  const { b: B } = await signedIn('Bob');

  const watch = collector('B presences');
  const rtB = B.realtime();
  await rtB.subscribe('presences', watch.cb, [], 'B on presences');

  const rtA = A.realtime();
  await rtA.subscribe('account', () => {}, [], 'A on account', { expectChannels: ['account', `account.${accA.$id}`] });
  const pid = `p-${uniq()}`;
  await A.run(() => rtA.realtime.upsertPresence({ status: 'online', presenceId: pid, metadata: { page: '/home' } }));
  const created = await watch.waitCount(1);
  check.ok(created.events.includes(`presences.${pid}.create`), `create event: ${created.events}`);
  check.ok(created.channels.includes('presences') && created.channels.includes(`presences.${pid}`), 'presence channels');
  check.equal(created.payload.userId, accA.$id, 'the presence is A\'s');
  check.equal(created.payload.status, 'online', 'status online');
  check.equal(JSON.stringify(created.payload.metadata), JSON.stringify({ page: '/home' }), 'metadata');

  await A.run(() => rtA.realtime.upsertPresence({ status: 'away', presenceId: pid }));
  const updated = await watch.waitCount(2);
  check.ok(updated.events.includes(`presences.${pid}.update`), `update event: ${updated.events}`);
  check.equal(updated.payload.status, 'away', 'status away');
  await new Promise((r) => setTimeout(r, 300));
  check.equal(watch.events.length, 2, 'one update event, not a leave plus a join');

  const listed = await presences.list();
  check.ok(listed.presences.some((p) => p.$id === pid && p.status === 'away'), 'Presences.list has it');
  const got = await presences.get({ presenceId: pid });
  check.equal(got.source, 'realtime', 'source realtime');

  const apiId = `api-${uniq()}`;
  const up = await presences.upsert({ presenceId: apiId, userId: accA.$id, status: 'busy', metadata: { via: 'api' } });
  check.equal(up.status, 'busy', 'Presences.upsert');
  const apiEvent = await watch.waitCount(3);
  check.ok(apiEvent.events.includes(`presences.${apiId}.create`), 'an API presence is an event too');
  await presences.delete({ presenceId: apiId });
  const apiGone = await watch.waitCount(4);
  check.ok(apiGone.events.includes(`presences.${apiId}.delete`), 'Presences.delete');

  rtA.realtime.disconnect();  // A's realtime presence leaves with its connection
  const gone = await watch.waitCount(5);
  check.ok(gone.events.includes(`presences.${pid}.delete`), `delete event when A disconnects: ${gone.events}`);
  await waitFor(async () => !(await presences.list()).presences.some((p) => p.$id === pid), 5000, 'the presence is gone');
});
