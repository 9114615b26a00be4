// Team rows and membership changes on live connections.
// - A (cookieFallback) creates a team with the Web SDK and becomes its owner; A's `teams`
//   subscription gets teams.T.create (the creator's connection is re-roled first).
// - The admin (API key) adds B as a confirmed member: B's live connection gets team:T before
//   the membership event is matched, so B's `memberships` subscription receives the create
//   event about itself (as on Appwrite: permissionsChanged re-subscribes the user first).
// - Rows with read("team:T") reach A and B; read("team:T/owner") only A; read("member:<M>")
//   only B; after updateMembership({roles:["editor"]}) read("team:T/editor") only B.
// - Every live connection of B is re-roled (B also has a JWT tab), not only the first one.
// - Team name/prefs updates reach the members on `teams`; a non-owner member cannot rename.
// - deleteMembership: B's same open connection (no reconnect) loses team:T before the delete
//   event is matched, so B gets neither that event nor later team rows; A still gets both.
// - An invitation by the owner (user session) is unconfirmed and grants nothing; the invitee
//   may decline it (delete its own membership).
// - Deleting the team: A gets teams.T.delete, and team rows reach nobody afterwards.
// - A guest subscribed to teams/memberships/table gets none of it.
import {
  browser, check, checkResourceEvent, checkRowEvent, checkStatus, collector, deliver, env, nodeAdmin,
  resourceEvents, run, setupTable, sockets, uniq,
} from './harness.mjs';
import * as web from 'appwrite';
import * as node from 'node-appwrite';

const cfg = env();
const { Permission, Role, ID } = node;
const PASSWORD = 'correct horse battery';

/** Sign up and log in a user in its own browser; 'fallback' keeps the cookieFallback, 'session' uses setSession. */
async function signIn(b, name, mode) {
  const email = `${name.toLowerCase()}-${uniq()}@example.com`;
  const acc = await b.account.create({ userId: ID.unique(), email, password: PASSWORD, name });
  await b.account.createEmailPasswordSession({ email, password: PASSWORD });
  const token = b.sessionToken();
  check.ok(token, `${name}: session token in cookieFallback`);
  if (mode === 'session') {
    b.storage.clear();
    b.client.setSession(token);
  }
  check.equal((await b.account.get()).$id, acc.$id, `${name}: account.get`);
  return acc.$id;
}

run('teams_realtime', async () => {
  const admin = nodeAdmin(node, cfg);
  const { tablesDB } = admin;
  const teamsAdmin = new node.Teams(admin.client);
  const db = `db${uniq()}`;
  const T = 'teamrows';
  await tablesDB.create({ databaseId: db, name: 'teams realtime' });
  await setupTable(tablesDB, { db, table: T, permissions: [], rowSecurity: true });
  const channel = `tablesdb.${db}.tables.${T}.rows`;

  const A = browser(web, cfg, 'A');
  const B = browser(web, cfg, 'B');
  const G = browser(web, cfg, 'guest');
  const UA = await signIn(A, 'Alice', 'fallback');
  const UB = await signIn(B, 'Bob', 'session');

  // B has a second tab that authenticates with a JWT (in the realtime URL): every live
  // connection of B must be re-roled, not only the first one.
  const B2 = browser(web, cfg, 'B (JWT tab)');
  B2.client.setJWT((await B.account.createJWT()).jwt);
  const rt = { A: A.realtime(), B: B.realtime(), B2: B2.realtime(), G: G.realtime() };
  const subs = {};
  const add = async (name, conn, channels) => {
    const col = collector(name);
    subs[name] = { ...(await rt[conn].subscribe(channels, col.cb, [], name)), col, conn };
  };
  await add('aT', 'A', channel);
  await add('aTeams', 'A', 'teams');
  await add('aMem', 'A', 'memberships');
  await add('bT', 'B', channel);
  await add('bTeams', 'B', 'teams');
  await add('bMem', 'B', 'memberships');
  await add('b2T', 'B2', channel);
  await add('gT', 'G', channel);
  await add('gTeams', 'G', ['teams', 'memberships']);
  const socketOfB = rt.B.socketIndex();
  const socketOfB2 = rt.B2.socketIndex();

  const row = (permission, title) => () => tablesDB.createRow({
    databaseId: db, tableId: T, rowId: ID.unique(), data: { title }, permissions: [permission],
  });

  // --- A creates a team and owns it --------------------------------------------------------------
  const tid = ID.unique();
  let d = await deliver(subs, ['aTeams'], () => A.teams.create({ teamId: tid, name: 'Crew' }), 'A creates a team');
  checkStatus('POST', '/teams', 201, 'teams.create');
  const team = d.result;
  check.equal(team.$id, tid, 'team.$id');
  check.equal(team.total, 1, 'a team created by a user has its creator as member (total 1)');
  checkResourceEvent(d.events.aTeams, {
    events: resourceEvents([['teams', tid]], 'create'),
    channels: ['teams', `teams.${tid}`, 'teams.create', `teams.${tid}.create`], payloadId: tid,
    subscriptions: [subs.aTeams.id],
  }, 'teams.T.create');
  const owners = await A.teams.listMemberships({ teamId: tid });
  check.equal(owners.total, 1, 'one membership after teams.create');
  const ma = owners.memberships[0];
  check.equal(ma.userId, UA, 'the member is A');
  check.ok(ma.roles.includes('owner'), `A is owner (roles ${ma.roles})`);
  check.equal(ma.confirm, true, "A's membership is confirmed");

  d = await deliver(subs, ['aT'], row(Permission.read(Role.team(tid)), 'before B'), 'read("team:T") row before B joins');

  // --- The admin adds B (confirmed at once) --------------------------------------------------------
  d = await deliver(subs, ['aMem', 'bMem'], () => teamsAdmin.createMembership({ teamId: tid, roles: [], userId: UB }),
    'admin adds B to the team');
  checkStatus('POST', `/teams/${tid}/memberships`, 201, 'createMembership (API key)');
  const mb = d.result;
  check.equal(mb.userId, UB, 'membership.userId');
  check.equal(mb.teamId, tid, 'membership.teamId');
  check.equal(mb.confirm, true, 'a membership added with the API key is confirmed');
  check.ok(mb.joined, 'membership.joined is set');
  check.deepEqual([...mb.roles], [], 'membership.roles');
  for (const who of ['aMem', 'bMem']) {
    checkResourceEvent(d.events[who], {
      events: resourceEvents([['teams', tid], ['memberships', mb.$id]], 'create'),
      channels: ['memberships', `memberships.${mb.$id}`, 'memberships.create', `memberships.${mb.$id}.create`],
      payloadId: mb.$id, subscriptions: [subs[who].id],
    }, `teams.T.memberships.M.create on ${who}`);
  }
  check.equal(d.events.bMem.payload.userId, UB, 'B receives the membership about itself');

  d = await deliver(subs, ['aT', 'bT', 'b2T'], row(Permission.read(Role.team(tid)), 'team'), 'read("team:T") row with B a member');
  checkRowEvent(d.events.bT, { db, table: T, id: d.result.$id, action: 'create', columns: { title: 'team' }, subscriptions: [subs.bT.id] });
  const teamRow = d.result;
  await deliver(subs, ['aT'], row(Permission.read(Role.team(tid, 'owner')), 'owners'), 'read("team:T/owner") row');
  await deliver(subs, ['bT', 'b2T'], row(Permission.read(Role.member(mb.$id)), 'member B'), 'read("member:<B\'s membership>") row');
  check.equal((await B.teams.get({ teamId: tid })).$id, tid, 'B can get the team');
  check.equal((await B.tablesDB.getRow({ databaseId: db, tableId: T, rowId: teamRow.$id })).$id, teamRow.$id, 'B can read the team row');
  await deliver(subs, ['aT', 'bT', 'b2T'], () => tablesDB.updateRow({ databaseId: db, tableId: T, rowId: teamRow.$id, data: { title: 'team 2' } }),
    'update of the team row');
  check.equal((await A.teams.get({ teamId: tid })).total, 2, 'team.total counts A and B');
  d = await deliver(subs, ['aTeams', 'bTeams'], () => A.teams.updateName({ teamId: tid, name: 'Crew 2' }), 'A renames the team');
  checkResourceEvent(d.events.bTeams, {
    events: resourceEvents([['teams', tid]], 'update'),
    channels: ['teams', `teams.${tid}`, 'teams.update', `teams.${tid}.update`], payloadId: tid,
  }, 'teams.T.update');
  check.equal(d.events.bTeams.payload.name, 'Crew 2', 'team update payload.name');
  d = await deliver(subs, ['aTeams', 'bTeams'], () => A.teams.updatePrefs({ teamId: tid, prefs: { color: 'teal' } }), 'A sets team prefs');
  checkResourceEvent(d.events.aTeams, {
    events: resourceEvents([['teams', tid]], 'update', 'prefs'),
    channels: ['teams', `teams.${tid}`, 'teams.update', `teams.${tid}.update`],
  }, 'teams.T.update.prefs');
  check.deepEqual({ ...d.events.aTeams.payload }, { color: 'teal' }, 'the prefs event carries the preferences document');
  await check.rejects(() => B.teams.updateName({ teamId: tid, name: 'mine' }), { code: 401, type: 'user_unauthorized' },
    'a member who is not owner renames the team');

  // --- Roles change on the live connection ---------------------------------------------------------
  d = await deliver(subs, ['aMem', 'bMem'], () => teamsAdmin.updateMembership({ teamId: tid, membershipId: mb.$id, roles: ['editor'] }),
    "admin gives B the role 'editor'");
  check.deepEqual([...d.result.roles], ['editor'], 'updateMembership returns the new roles');
  checkResourceEvent(d.events.bMem, {
    events: resourceEvents([['teams', tid], ['memberships', mb.$id]], 'update'),
    channels: ['memberships', `memberships.${mb.$id}`, 'memberships.update', `memberships.${mb.$id}.update`], payloadId: mb.$id,
  }, 'teams.T.memberships.M.update');
  await deliver(subs, ['bT', 'b2T'], row(Permission.read(Role.team(tid, 'editor')), 'editors'), 'read("team:T/editor") row');
  await deliver(subs, ['aMem', 'bMem'], () => teamsAdmin.updateMembership({ teamId: tid, membershipId: mb.$id, roles: [] }),
    "admin takes 'editor' away");
  await deliver(subs, [], row(Permission.read(Role.team(tid, 'editor')), 'editors 2'), 'read("team:T/editor") row, no editors left');

  // --- B leaves: same connection, no team rows any more ---------------------------------------------
  d = await deliver(subs, ['aMem'], () => teamsAdmin.deleteMembership({ teamId: tid, membershipId: mb.$id }),
    "admin deletes B's membership (B was re-roled before the event was matched)");
  checkStatus('DELETE', `/memberships/${mb.$id}`, 204, 'deleteMembership');
  checkResourceEvent(d.events.aMem, {
    events: resourceEvents([['teams', tid], ['memberships', mb.$id]], 'delete'),
    channels: ['memberships', `memberships.${mb.$id}`, 'memberships.delete', `memberships.${mb.$id}.delete`], payloadId: mb.$id,
  }, 'teams.T.memberships.M.delete');
  d = await deliver(subs, ['aT'], row(Permission.read(Role.team(tid)), 'after B left'), 'read("team:T") row after B left');
  await deliver(subs, ['aT'], () => tablesDB.updateRow({ databaseId: db, tableId: T, rowId: teamRow.$id, data: { title: 'team 3' } }),
    'update of the older team row after B left');
  check.equal(rt.B.socketIndex(), socketOfB, "B's connection is the same one (no reconnect)");
  check.equal(sockets[socketOfB].closeCode, null, "B's connection is still open");
  check.equal(rt.B2.socketIndex(), socketOfB2, "B's JWT connection is the same one (no reconnect)");
  await check.rejects(() => B.tablesDB.getRow({ databaseId: db, tableId: T, rowId: teamRow.$id }),
    { code: 404, type: 'row_not_found' }, 'B reads the team row after leaving');
  const teamsOfB = await B.teams.list();
  check.equal(teamsOfB.total, 0, 'B lists no teams after leaving');

  // --- An invitation (user session) is not a membership yet ----------------------------------------
  d = await deliver(subs, ['aMem'], () => A.teams.createMembership({
    teamId: tid, roles: ['viewer'], userId: UB, url: 'http://localhost:5173/join',
  }), 'A (owner) invites B');
  const invite = d.result;
  check.equal(invite.confirm, false, 'an invitation by a user session is unconfirmed');
  await deliver(subs, ['aT'], row(Permission.read(Role.team(tid)), 'B invited'), 'read("team:T") row while B is only invited');
  check.equal((await A.teams.get({ teamId: tid })).total, 1, 'team.total counts confirmed members only');
  // B declines: an invitee may delete its own membership.
  d = await deliver(subs, ['aMem'], () => B.teams.deleteMembership({ teamId: tid, membershipId: invite.$id }), 'B declines the invitation');
  checkStatus('DELETE', `/memberships/${invite.$id}`, 204, 'deleteMembership by the invitee');

  // --- A deletes the team ---------------------------------------------------------------------------
  d = await deliver(subs, ['aTeams'], () => A.teams.delete({ teamId: tid }), 'A deletes the team');
  checkStatus('DELETE', `/teams/${tid}`, 204, 'teams.delete');
  checkResourceEvent(d.events.aTeams, {
    events: resourceEvents([['teams', tid]], 'delete'),
    channels: ['teams', `teams.${tid}`, 'teams.delete', `teams.${tid}.delete`], payloadId: tid,
  }, 'teams.T.delete');
  await deliver(subs, [], row(Permission.read(Role.team(tid)), 'no team'), 'read("team:T") row after the team was deleted');
  await deliver(subs, ['aT', 'bT', 'b2T', 'gT'], row(Permission.read(Role.any()), 'public'), 'read("any") row (every connection alive)');

  for (const [who, r] of Object.entries(rt)) check.deepEqual(r.errors, [], `${who}: no onError callbacks`);
  check.equal(sockets.length, Object.keys(rt).length, 'one socket per browser, no reconnects');
  for (const r of Object.values(rt)) await r.realtime.disconnect();
});
