// A team is visible to its confirmed members only, as on Appwrite: the team document carries
// read("team:<T>") and every teams route reads it under the caller's roles, so
//   GET /v1/teams                      lists only teams the caller is a confirmed member of
//                                       (Teams/XList: $dbForProject->find('teams', …)),
//   GET /v1/teams/{T}                   is 404 team_not_found for anyone else (Teams/Get),
//   GET /v1/teams/{T}/memberships       likewise 404 team_not_found (Memberships/XList).
// An invitee (membership with confirm:false) is not a member yet.
// (appwrite/appwrite src/Appwrite/Platform/Modules/Teams/Http/{Teams,Memberships}/*.php)
import { browser, check, env, run, uniq } from './harness.mjs';
import * as web from 'appwrite';

const cfg = env();
const { ID } = web;
const PASSWORD = 'correct horse battery';

async function signIn(b, name) {
  const email = `${name.toLowerCase()}-${uniq()}@example.com`;
  const acc = await b.account.create({ userId: ID.unique(), email, password: PASSWORD, name });
  await b.account.createEmailPasswordSession({ email, password: PASSWORD });
  return acc.$id;
}

run('teams_visibility', async () => {
  const A = browser(web, cfg, 'A');
  const B = browser(web, cfg, 'B (invited)');
  const C = browser(web, cfg, 'C (stranger)');
  await signIn(A, 'Alice');
  const UB = await signIn(B, 'Bob');
  await signIn(C, 'Carol');

  const tid = ID.unique();
  await A.teams.create({ teamId: tid, name: 'Secret team' });
  await A.teams.updatePrefs({ teamId: tid, prefs: { launch: 'codes' } });
  const invite = await A.teams.createMembership({ teamId: tid, roles: ['viewer'], userId: UB, url: 'http://localhost:5173/join' });
  check.equal(invite.confirm, false, 'the invitation is unconfirmed');
  check.equal((await A.teams.list()).total, 1, 'the owner lists the team');

  for (const [who, b] of [['an invitee', B], ['a stranger', C]]) {
    const listed = await b.teams.list();
    check.deepEqual({ total: listed.total, names: listed.teams.map((t) => t.name) }, { total: 0, names: [] },
      `teams.list by ${who} shows no team (it would reveal the name and prefs)`);
    await check.rejects(() => b.teams.get({ teamId: tid }), { code: 404, type: 'team_not_found' }, `teams.get by ${who}`);
    await check.rejects(() => b.teams.listMemberships({ teamId: tid }), { code: 404, type: 'team_not_found' },
      `teams.listMemberships by ${who}`);
  }
});
