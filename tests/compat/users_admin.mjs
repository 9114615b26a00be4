// The Users service of node-appwrite (a server's key) and what its changes send to the user.
// - users.create / list (search, queries) / get / updateName / updateLabels /
//   updatePrefs / getPrefs / updateEmailVerification / updateStatus / createSession /
//   listSessions / deleteSession / deleteSessions / createToken / createJWT / delete, each
//   parsed by the SDK, with the status codes Appwrite answers.
// - A Web SDK browser signs in with a token the server made (account.createSession), and its
//   `account` subscription receives users.U.update.* for that user only; a guest's receives none.
import {
  browser, check, checkStatus, collector, env, nodeAdmin, run, sleep, uniq, webRealtime,
} from './harness.mjs';
import * as web from 'appwrite';
import * as node from 'node-appwrite';

const cfg = env();
const { ID, Query } = node;

run('users_admin', async () => {
  const { client } = nodeAdmin(node, cfg);
  const users = new node.Users(client);
  const tag = uniq();
  const ann = await users.create({ userId: ID.unique(), email: `ann-${tag}@example.com`, password: 'password-123',
    name: `Ann ${tag}` });
  checkStatus('POST', '/users', 201, 'users.create');
  check.equal(ann.hash, 'argon2', 'users.create: argon2 hash');
  const bob = await users.create({ userId: ID.unique(), email: `bob-${tag}@example.com`, name: `Bob ${tag}` });
  const listed = await users.list({ search: tag });
  check.equal(listed.total, 2, 'users.list: search finds both');
  const one = await users.list({ queries: [Query.equal('name', [`Bob ${tag}`])], search: tag });
  check.deepEqual(one.users.map((u) => u.$id), [bob.$id], 'users.list: equal query');
  check.equal((await users.get({ userId: ann.$id })).email, ann.email, 'users.get');

  // Ann signs in with a token made by the server, in a browser, and listens to her account.
  const token = await users.createToken({ userId: ann.$id, length: 12, expire: 600 });
  checkStatus('POST', `/users/${ann.$id}/tokens`, 201, 'users.createToken');
  check.equal(token.secret.length, 12, 'users.createToken: secret length');
  const A = browser(web, cfg, 'A');
  const session = await A.account.createSession({ userId: ann.$id, secret: token.secret });
  checkStatus('POST', '/account/sessions/token', 201, 'account.createSession with the token');
  check.equal(session.provider, 'token', 'token session provider');
  check.equal((await A.account.get()).$id, ann.$id, 'the browser is Ann');
  const rtA = A.realtime();
  const annEvents = collector('ann account');
  await rtA.subscribe(['account'], annEvents.cb, [], 'account (Ann)', { expectChannels: ['account', `account.${ann.$id}`] });
  const guestRt = webRealtime(web, cfg);
  const guestEvents = collector('guest account');
  await guestRt.subscribe(['account'], guestEvents.cb, [], 'account (guest)');

  check.equal((await users.updateName({ userId: ann.$id, name: 'Ann B' })).name, 'Ann B', 'users.updateName');
  const ev = await annEvents.waitCount(1);
  check.equal(ev.events[0], `users.${ann.$id}.update.name`, 'the update.name event reaches Ann');
  check.sameSet(ev.channels, ['account', `account.${ann.$id}`, 'account.update', `account.${ann.$id}.update`],
    'update.name channels');
  check.equal(ev.payload.name, 'Ann B', 'event payload');
  check.equal(ev.payload.password, undefined, 'the event carries no password hash');
  check.deepEqual((await users.updateLabels({ userId: ann.$id, labels: ['vip'] })).labels, ['vip'], 'users.updateLabels');
  check.deepEqual({ ...(await users.updatePrefs({ userId: ann.$id, prefs: { a: 1 } })) }, { a: 1 }, 'users.updatePrefs');
  check.deepEqual({ ...(await users.getPrefs({ userId: ann.$id })) }, { a: 1 }, 'users.getPrefs');
  check.equal((await users.updateEmailVerification({ userId: ann.$id, emailVerification: true })).emailVerification,
    true, 'users.updateEmailVerification');
  await annEvents.waitCount(4);
  check.deepEqual(annEvents.events.map((e) => e.events[0]).slice(1),
    ['labels', 'prefs', 'verification'].map((f) => `users.${ann.$id}.update.${f}`), 'the updates, in order');
  await users.updateName({ userId: bob.$id, name: 'Bob B' });  // not Ann's: she hears nothing of it
  await sleep(300);
  check.equal(annEvents.events.filter((e) => e.events[0].includes(bob.$id)).length, 0, 'Ann gets none of Bob\'s events');
  check.equal(guestEvents.events.length, 0, 'a guest gets no account events');

  const made = await users.createSession({ userId: bob.$id });
  checkStatus('POST', `/users/${bob.$id}/sessions`, 201, 'users.createSession');
  check.ok(made.secret, 'a server-made session carries its secret');
  check.equal((await users.listSessions({ userId: bob.$id })).total, 1, 'users.listSessions');
  const jwt = await users.createJWT({ userId: bob.$id, sessionId: made.$id, duration: 60 });
  check.ok(jwt.jwt.split('.').length === 3, 'users.createJWT');
  await users.deleteSession({ userId: bob.$id, sessionId: made.$id });
  checkStatus('DELETE', `/users/${bob.$id}/sessions/${made.$id}`, 204, 'users.deleteSession');
  await users.createSession({ userId: bob.$id });
  await users.deleteSessions({ userId: bob.$id });
  check.equal((await users.listSessions({ userId: bob.$id })).total, 0, 'users.deleteSessions');

  check.equal((await users.updateStatus({ userId: bob.$id, status: false })).status, false, 'users.updateStatus');
  await users.delete({ userId: bob.$id });
  checkStatus('DELETE', `/users/${bob.$id}`, 204, 'users.delete');
  try {
    await users.get({ userId: bob.$id });
    check.ok(false, 'a deleted user is gone');
  } catch (e) {
    check.equal(e.code, 404, 'users.get after delete: 404');
    check.equal(e.type, 'user_not_found', 'users.get after delete: user_not_found');
  }
  await rtA.realtime.disconnect();
  await guestRt.realtime.disconnect();
});
