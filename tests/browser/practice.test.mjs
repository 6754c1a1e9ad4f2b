// The practice around the notes, at a phone's size in Chromium, served as `scripts/run`
// serves it: a worker records consent where the app warns of its absence, writes a visit
// linked to a goal with the progress seen, and closes the case with a summary that the
// supervisor signs; a group of three members meets twice, its register shows who came, and a
// member's own case shows their attendance and nothing of the others. Each new screen is
// saved under target/screenshots/.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Phone, SyncServer, copyOfWebBuild, freePort, launchChromium, shot } from './harness.mjs';

const CLIENT = 'Mr Idris Bello';
const GOAL = 'Warm and safe at home through the winter';
const GROUP = "Carers' group";

/** Errors a page may log that are not the app's. */
const EXPECTED_ERRORS = /Failed to load resource|ERR_|Failed to fetch|NetworkError/;

describe('Practice depth on a phone', () => {
  let web, server, browser, amara, grace;

  before(async () => {
    web = copyOfWebBuild();
    server = new SyncServer(await freePort(), web.root);
    server.seed();
    await server.start();
    browser = await launchChromium();
    amara = await Phone.signedIn(browser, `${server.url}/`, 'amara');
    grace = await Phone.signedIn(browser, `${server.url}/`, 'grace');
  });

  after(async () => {
    for (const phone of [amara, grace]) {
      if (phone) assert.deepEqual(phone.errors.filter((e) => !EXPECTED_ERRORS.test(e)), [], `${phone.name}'s page logged errors`);
    }
    await browser?.close();
    await server?.stop();
    web?.remove();
  });

  /** Shows every case on the caseload, closed ones included (the default is open cases). */
  const showAll = (phone) => phone.page.locator('.chips').getByRole('button', { name: 'All', exact: true }).click();

  /** The entry `n` (from 1) of a list on the screen. */
  const entry = (phone, list, n) => phone.page.locator(`[data-list="${list}"] [data-entry="${n}"]`);

  test('starting a record without consent to be recorded warns, and the consent is recorded there', async () => {
    await amara.button('New case').click();
    await amara.page.getByLabel("Client's name").pressSequentially(CLIENT);
    await amara.button('Open case').click();
    await amara.page.locator('.case-head h2', { hasText: CLIENT }).waitFor();
    await amara.page.locator('.kinds').getByRole('button', { name: 'Home visit', exact: true }).click();
    const warning = amara.page.locator('.consent-warning');
    await warning.filter({ hasText: 'No consent to be recorded' }).waitFor();
    await shot(amara.page, 'practice-consent-warning');
    await warning.getByRole('button', { name: 'Record consent given today' }).click();
    await warning.getByRole('button', { name: 'Verbal', exact: true }).click();
    await warning.waitFor({ state: 'detached' });
  });

  test('a goal with a review date, a visit that works on it, and the goal\'s progress drawn', async () => {
    await amara.button('Profile, consents, goals, team').click();
    const consent = entry(amara, 'consents', 1);
    assert.equal(await consent.getByRole('button', { name: 'Being recorded' }).getAttribute('aria-pressed'), 'true');
    await amara.button('Add goal').click();
    await amara.type('goal', GOAL, { where: { list: 'goals', entry: 1 } });
    await amara.saved();
    // A review date already past: the goal's review is overdue.
    await entry(amara, 'goals', 1).locator('input[name="review_date"]').fill('2026-01-15');
    await amara.saved();
    await shot(amara.page, 'practice-profile-goal');
    await amara.back();

    await amara.newRecord('Home visit');
    await amara.type('observed_home', 'Radiators cold; the boiler shows a fault light.');
    await amara.button('Add goal worked on').click();
    const link = entry(amara, 'goal_progress', 1);
    await link.getByRole('button', { name: GOAL }).click();
    await link.getByRole('button', { name: '2', exact: true }).click();
    await amara.type('note', 'Engineer booked; a heater lent meanwhile.', { where: { list: 'goal_progress', entry: 1 } });
    await amara.saved();
    await shot(amara.page, 'practice-visit-goal-progress');
    await amara.back();
    const chart = amara.page.locator('svg.progress-chart');
    await chart.waitFor();
    assert.match(await chart.getAttribute('aria-label'), /rated once: 2 of 5/);
    await amara.page.locator('.goal .badge', { hasText: 'Review overdue' }).waitFor();
    await shot(amara.page, 'practice-goal-chart');
    await amara.home();
    await amara.page.locator('.overdue-link', { hasText: 'goal reviews due' }).click();
    await amara.page.locator('.goal-reviews .card', { hasText: GOAL }).waitFor();
    await shot(amara.page, 'practice-overdue-goal-review');
    await amara.home();
  });

  test('the case closes with its summary once the visit is signed, and the supervisor signs the summary', async () => {
    await amara.openRecord(CLIENT, 'Home visit');
    await amara.button('Submit for review').click();
    await amara.page.locator('.status', { hasText: 'Submitted' }).waitFor();
    await amara.syncNow();
    await grace.syncNow();
    await grace.home();
    await grace.openRecord(CLIENT, 'Home visit');
    await grace.button('Approve and sign').click();
    await grace.page.locator('.status', { hasText: 'Finalised' }).waitFor();
    await grace.syncNow();
    await amara.syncNow();
    await amara.home();

    await amara.openCase(CLIENT);
    await amara.button('Profile, consents, goals, team').click();
    await amara.button('Close the case…').click();
    await amara.page.locator('.closing h2', { hasText: CLIENT }).waitFor();
    await shot(amara.page, 'practice-close-case');
    await amara.button('Write the closing summary').click();
    await amara.page.locator('.record-head h2', { hasText: 'Closing summary' }).waitFor();
    await amara.type('reason', 'The heating is fixed and he asked to close.');
    await amara.type('client_told', 'That he can come back to us at any time.');
    await amara.button('Add goal outcome').click();
    await entry(amara, 'goal_outcomes', 1).getByRole('button', { name: GOAL }).click();
    await entry(amara, 'goal_outcomes', 1).getByRole('button', { name: 'Achieved', exact: true }).click();
    await amara.saved();
    await amara.button('Submit for review').click();
    await amara.page.locator('.status', { hasText: 'Submitted' }).waitFor();
    await shot(amara.page, 'practice-closing-summary');
    await amara.back();
    // Nothing is left open: the visit is signed, the summary is the closure's own.
    await amara.page.locator('.checklist', { hasText: 'Nothing: every record is signed' }).waitFor();
    await amara.page.locator('input[name="closed_on"]').fill(new Date().toISOString().slice(0, 10));
    await amara.page.getByLabel('Outcome').pressSequentially('Goals met');
    await amara.button('Close the case').click();
    await amara.page.locator('.case-head .meta', { hasText: 'Closed' }).waitFor();
    // A closed case's goals are no longer due for review.
    assert.equal(await amara.page.locator('.goal .badge', { hasText: 'Review overdue' }).count(), 0);
    await amara.syncNow();

    await grace.syncNow();
    await grace.home();
    await showAll(grace);
    await grace.openRecord(CLIENT, 'Closing summary');
    await grace.button('Approve and sign').click();
    await grace.page.locator('.status', { hasText: 'Finalised' }).waitFor();
    await grace.syncNow();
    await grace.back();
    await grace.button('History').click();
    const history = await grace.page.locator('.history').innerText();
    assert.match(history, /Signed by grace/);
    assert.match(history, /Reason for closing/);
    // The goal an outcome is about is named, never shown by its id.
    assert.match(history, new RegExp(`Goal outcome 1 › Goal\\s+now ${GOAL}`));
    assert.doesNotMatch(history, /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-/);
    await shot(grace.page, 'practice-history');
    await grace.home();
  });

  test('a transfer to another agency rests on a handover summary for the receiving worker', async () => {
    await amara.home();
    await amara.button('New case').click();
    await amara.page.getByLabel("Client's name").pressSequentially('Ms Rosa Lind');
    await amara.button('Open case').click();
    await amara.button('Profile, consents, goals, team').click();
    await amara.button('Transfer the case…').click();
    await amara.page.locator('.transfer h2', { hasText: 'Ms Rosa Lind' }).waitFor();
    // Without its summary, the transfer is not made.
    await amara.page.locator('input[name="transfer_on"]').fill(new Date().toISOString().slice(0, 10));
    await amara.button('Transfer the case').click();
    await amara.page.locator('.transfer .error', { hasText: 'Write the handover summary first' }).waitFor();
    await shot(amara.page, 'practice-transfer');
    await amara.button('Write the handover summary').click();
    await amara.page.locator('.record-head h2', { hasText: 'Handover summary' }).waitFor();
    await amara.type('receiving_worker', 'Sam Ode, Riverside Housing Trust');
    await amara.type('situation', 'Settled in her new flat; rent arrears cleared.');
    await amara.saved();
    await amara.back();
    await amara.page.locator('input[name="transfer_on"]').fill(new Date().toISOString().slice(0, 10));
    await amara.page.getByLabel('Reason').pressSequentially('Moved to the Riverside area');
    await amara.button('Transfer the case').click();
    await amara.page.locator('.case-head .meta', { hasText: 'Transferred' }).waitFor();
    await amara.page.locator('.timeline .card', { hasText: 'Handover summary' }).waitFor();
  });

  test('a group of three meets twice: the register shows who came, and a member\'s case shows only their attendance', async () => {
    await amara.home();
    await amara.button('New case').click();
    await amara.button('A group').click();
    await amara.page.getByLabel("Group's name").pressSequentially(GROUP);
    await amara.button('Start the group').click();
    await amara.page.locator('.case-head h2', { hasText: GROUP }).waitFor();
    await amara.button('Purpose, objectives, members, facilitators').click();
    for (const [n, name] of [[1, 'Idris'], [2, 'Sade (a neighbour)'], [3, 'Tomasz']]) {
      await amara.button('Add member').click();
      await amara.type('name', name, { where: { list: 'members', entry: n } });
      await amara.saved();
    }
    await entry(amara, 'members', 1).locator('select[name="case"]').selectOption({ label: CLIENT });
    await amara.saved();
    await shot(amara.page, 'practice-group-members');
    await amara.back();

    const marks = [['Present', 'Absent', 'Late'], ['Late', 'Present', 'Present']];
    for (const session of marks) {
      await amara.newSession();
      for (const [index, attendance] of session.entries()) {
        await entry(amara, 'members', index + 1).getByRole('button', { name: attendance, exact: true }).click();
        await amara.saved();
      }
      await shot(amara.page, 'practice-group-session');
      await amara.back();
    }
    const register = amara.page.locator('table.register');
    await register.waitFor();
    const rows = await register.locator('tbody tr').allInnerTexts();
    assert.equal(rows.length, 3);
    assert.match(await register.locator('thead').innerText(), /#1[\s\S]*#2/);
    assert.match(rows[0], /Idris\s+P\s+L\s+2 of 2/);
    assert.match(rows[1], /Sade \(a neighbour\)\s+A\s+P\s+1 of 2/);
    assert.match(rows[2], /Tomasz\s+L\s+P\s+2 of 2/);
    await shot(amara.page, 'practice-group-register');
    await amara.syncNow();

    // Idris's own case: the group, the days and his attendance; nobody else's name.
    await grace.syncNow();
    await grace.syncNow();
    await grace.home();
    await showAll(grace);
    await grace.openCase(CLIENT);
    const attended = grace.page.locator('.groups-attended');
    await attended.locator('.meta', { hasText: 'Came to 2 of 2 sessions' }).waitFor();
    const text = await attended.innerText();
    assert.match(text, new RegExp(GROUP));
    assert.doesNotMatch(text, /Sade|Tomasz/);
    assert.doesNotMatch(await grace.page.locator('.case').innerText(), /Sade|Tomasz/);
    await shot(grace.page, 'practice-member-attendance');
  });

  test('the supervisor\'s dashboard, with the network off, at a phone\'s size', async () => {
    await grace.syncNow();
    await grace.home();
    // The server tells a supervisor when each of the team's devices last synced.
    await grace.button('Dashboard').click();
    const dashboard = grace.page.locator('.dashboard');
    await dashboard.locator('h3', { hasText: 'Devices not synced for over 7 days' }).waitFor();
    await dashboard.locator('p', { hasText: 'Every device synced within 7 days.' }).waitFor();
    await grace.home();
    await grace.context.setOffline(true);
    try {
      await grace.button('Dashboard').click();
      await dashboard.waitFor();
      await dashboard.locator('p', { hasText: 'Every device synced within 7 days.' }).waitFor();
      assert.match(await dashboard.locator('.meta').first().innerText(), /Your teams/);
      // amara's row: the cases she holds, the notes she has to write.
      const amaraRow = dashboard.locator('table.figures tbody tr', { hasText: 'amara' });
      await amaraRow.waitFor();
      // The visit and the summary grace signed this month, minutes after they were written.
      const chart = dashboard.locator('svg.delay-chart');
      assert.equal(await chart.getAttribute('role'), 'img');
      assert.match(await chart.getAttribute('aria-label'), /This month: [1-9]\d* under 1 day/);
      assert.ok(await chart.locator('rect.this-month').count() === 5);
      for (const heading of ['Waiting for review, oldest first', 'Overdue notes', 'Goal reviews overdue']) {
        await dashboard.locator('h3', { hasText: heading }).waitFor();
      }
      // The closed case's goal, overdue for review before it closed, is not listed.
      assert.equal(await dashboard.locator('.cards', { hasText: GOAL }).count(), 0);
      // One column at a phone's width: nothing scrolls sideways.
      const overflow = await grace.page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      assert.ok(overflow <= 0, `the dashboard scrolls sideways by ${overflow} px`);
      await shot(grace.page, 'practice-dashboard');
    } finally {
      await grace.context.setOffline(false);
    }
    await grace.home();
  });
});
