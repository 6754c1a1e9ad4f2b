// The web app in headless Chromium at a 390x844 phone viewport, against the real sync
// server: offline capture, reload, sync, a colleague's device, concurrent offline edits,
// every kind of record, review, sign-off and addenda. Screens are saved under
// target/screenshots/.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Phone, SyncServer, freePort, launchChromium, serveWebApp, shot } from './harness.mjs';

const CLIENT = 'Mrs Adaeze Okafor';
const OBSERVED = 'Kitchen clean and warm; she answered the door promptly.';
const CANARY = 'CANARY-7f3a9c-never-in-plaintext';

describe('Doorstep on a phone', () => {
  let web, server, browser, amara, ben, grace, appUrl;

  before(async () => {
    web = await serveWebApp();
    server = new SyncServer(await freePort(), web.origin);
    server.seed();
    appUrl = `${web.origin}/?server=${encodeURIComponent(server.url)}`;
    browser = await launchChromium();
  });

  after(async () => {
    for (const phone of [amara, ben, grace]) {
      if (phone) assert.deepEqual(phone.errors.filter((e) => !/Failed to load resource|ERR_/.test(e)), [], `${phone.name}'s page logged errors`);
    }
    await browser?.close();
    await server?.stop();
    await web?.close();
  });

  test('with the server down, a worker opens a case and writes a home-visit note', async () => {
    amara = await Phone.open(browser, appUrl, 'amara');
    await shot(amara.page, 'set-passphrase');
    await amara.setPassphrase();
    await amara.page.getByLabel('User name').waitFor();
    await shot(amara.page, 'sign-in-or-offline');
    await amara.workOffline('amara');
    await amara.page.locator('.banner', { hasText: /offline|Working offline/ }).waitFor();
    await amara.button('New case').click();
    await amara.page.getByLabel("Client's name").fill(CLIENT);
    await shot(amara.page, 'new-case');
    await amara.button('Open case').click();
    await amara.page.locator('.case-head h2', { hasText: CLIENT }).waitFor();
    await amara.page.locator('.kinds').getByRole('button', { name: 'Home visit', exact: true }).click();
    await shot(amara.page, 'case-new-record');
    await amara.page.locator('form.new-record button[type=submit]').click();
    await amara.page.locator('.record-head h2', { hasText: 'Home visit' }).waitFor();
    await amara.write('observed_client', OBSERVED);
    await amara.write('assessment', 'Coping, though isolated since the bereavement.');
    await amara.write('observed_home', `Heating works. ${CANARY}`);
    await amara.page.getByRole('button', { name: 'Add quote' }).click();
    await amara.write('speaker', 'Mrs Okafor', { list: 'quotes', entry: 1 });
    await amara.write('words', 'I manage, most days.', { list: 'quotes', entry: 1 });
    await amara.page.getByLabel('Risk or safety concern').check();
    await amara.page.getByRole('button', { name: 'Add decision' }).click();
    await amara.write('decision', 'Refer to befriending service.', { list: 'decisions', entry: 1 });
    await amara.write('rationale', 'Isolation is the main risk to her mood.', { list: 'decisions', entry: 1 });
    await amara.write('plan', 'Visit again next week.');
    const timeliness = await amara.page.locator('dl.timeliness').innerText();
    assert.match(timeliness, /Visit ended/);
    assert.match(timeliness, /Writing began/);
    await shot(amara.page, 'home-visit-editor');
  });

  test('the note is stored encrypted: the canary is nowhere in IndexedDB', async () => {
    const scan = await amara.page.evaluate(async (canary) => {
      const needle = new TextEncoder().encode(canary);
      const contains = (bytes) => {
        outer: for (let i = 0; i + needle.length <= bytes.length; i++) {
          for (let j = 0; j < needle.length; j++) if (bytes[i + j] !== needle[j]) continue outer;
          return true;
        }
        return false;
      };
      const asBytes = (value) => {
        if (value instanceof Uint8Array) return value;
        if (value instanceof ArrayBuffer) return new Uint8Array(value);
        return new TextEncoder().encode(JSON.stringify(value));
      };
      const readAll = (name) => new Promise((done, fail) => {
        const open = indexedDB.open(name);
        open.onerror = () => fail(open.error);
        open.onsuccess = () => {
          const db = open.result;
          const stores = [...db.objectStoreNames];
          const values = [];
          if (!stores.length) { db.close(); done(values); return; }
          const tx = db.transaction(stores, 'readonly');
          for (const store of stores) {
            const request = tx.objectStore(store).getAll();
            request.onsuccess = () => values.push(...request.result);
          }
          tx.oncomplete = () => { db.close(); done(values); };
          tx.onerror = () => fail(tx.error);
        };
      });
      // The control: the same scan finds the phrase where it is stored unencrypted.
      await new Promise((done, fail) => {
        const open = indexedDB.open('canary-control', 1);
        open.onupgradeneeded = () => open.result.createObjectStore('plain');
        open.onerror = () => fail(open.error);
        open.onsuccess = () => {
          const tx = open.result.transaction('plain', 'readwrite');
          tx.objectStore('plain').put(new TextEncoder().encode(`before ${canary} after`), 1);
          tx.oncomplete = () => { open.result.close(); done(); };
        };
      });
      const databases = (await indexedDB.databases()).map((db) => db.name);
      const stored = await readAll('doorstep');
      const control = await readAll('canary-control');
      const web = [JSON.stringify({ ...localStorage }), JSON.stringify({ ...sessionStorage }), document.cookie].join('');
      return {
        databases,
        chunks: stored.length,
        bytes: stored.reduce((sum, value) => sum + asBytes(value).length, 0),
        inStore: stored.some((value) => contains(asBytes(value))),
        inControl: control.some((value) => contains(asBytes(value))),
        inWebStorage: web.includes(canary),
      };
    }, CANARY);
    assert.ok(scan.databases.includes('doorstep'), `databases: ${scan.databases}`);
    assert.ok(scan.bytes > 4096, `the store holds ${scan.bytes} bytes in ${scan.chunks} chunks`);
    assert.equal(scan.inControl, true, 'the scan finds a plaintext canary');
    assert.equal(scan.inStore, false, 'the canary is in the stored pages');
    assert.equal(scan.inWebStorage, false, 'the canary is in web storage or cookies');
  });

  test('after a reload and unlocking, the note is still there', async () => {
    await amara.page.reload();
    await amara.page.getByLabel('Passphrase', { exact: true }).waitFor();
    await shot(amara.page, 'unlock');
    await amara.unlock();
    await amara.page.locator('.card', { hasText: CLIENT }).waitFor();
    await shot(amara.page, 'caseload');
    await amara.openCase(CLIENT);
    await shot(amara.page, 'case-timeline');
    await amara.page.locator('.timeline .card', { hasText: 'Home visit' }).click();
    assert.equal(await amara.field('observed_client').inputValue(), OBSERVED);
    assert.equal(await amara.field('words', { list: 'quotes', entry: 1 }).inputValue(), 'I manage, most days.');
    assert.equal(await amara.page.getByLabel('Risk or safety concern').isChecked(), true);
  });

  test('words typed just before the page closes are kept', async () => {
    const plan = 'Visit again next week. Bring the befriending leaflet.';
    // No pause after typing: the page goes away before the field's own save would run.
    await amara.field('plan').fill(plan);
    await amara.page.reload();
    await amara.unlock();
    await amara.openCase(CLIENT);
    await amara.page.locator('.timeline .card', { hasText: 'Home visit' }).click();
    assert.equal(await amara.field('plan').inputValue(), plan);
  });

  test('when the server starts, the note syncs', async () => {
    await server.start();
    await amara.openSync();
    await shot(amara.page, 'sync-status-offline-user');
    await amara.button('Sign in to sync').click();
    await amara.signIn('amara', server.url);
    await amara.syncNow();
    await shot(amara.page, 'sync-status-synced');
    const audit = server.admin(['audit']);
    assert.match(audit, /amara/);
  });

  test("a colleague's phone, signed in as a team member, sees the note", async () => {
    ben = await Phone.open(browser, appUrl, 'ben');
    await ben.setPassphrase();
    await ben.signIn('ben', server.url);
    await ben.syncNow();
    await ben.home();
    await ben.openCase(CLIENT);
    await ben.page.locator('.timeline .card', { hasText: 'Home visit' }).click();
    assert.equal(await ben.field('observed_client').inputValue(), OBSERVED);
    await shot(ben.page, 'colleague-sees-note');
  });

  test('both edit the same paragraph offline; after reconnecting both sentences are in both', async () => {
    await amara.home();
    await amara.openCase(CLIENT);
    await amara.page.locator('.timeline .card', { hasText: 'Home visit' }).click();
    await amara.context.setOffline(true);
    await ben.context.setOffline(true);
    const amaraSentence = ' Amara: she showed me the new smoke alarm.';
    const benSentence = ' Ben: her daughter phoned during the visit.';
    await amara.write('observed_client', OBSERVED + amaraSentence);
    await ben.write('observed_client', OBSERVED + benSentence);
    await amara.page.locator('.banner', { hasText: 'Offline' }).waitFor();
    await shot(amara.page, 'offline-banner');
    await amara.context.setOffline(false);
    await ben.context.setOffline(false);
    await amara.syncNow();
    await ben.syncNow();
    await amara.syncNow();
    for (const phone of [amara, ben]) {
      await phone.back();
      const text = await phone.field('observed_client').inputValue();
      assert.ok(text.includes(amaraSentence.trim()), `${phone.name} lacks Amara's sentence: ${text}`);
      assert.ok(text.includes(benSentence.trim()), `${phone.name} lacks Ben's sentence: ${text}`);
      assert.ok(text.startsWith(OBSERVED), `${phone.name}: ${text}`);
    }
    await shot(ben.page, 'merged-paragraph');
  });

  test('a process recording with five exchanges gets a supervisor comment', async () => {
    await amara.home();
    await amara.openCase(CLIENT);
    await amara.newRecord('Process recording');
    await amara.write('purpose', 'Explore how she is coping with the bereavement.');
    const speakers = ['Worker', 'Mrs Okafor', 'Worker', 'Mrs Okafor', 'Worker'];
    for (const [index, speaker] of speakers.entries()) {
      await amara.page.getByRole('button', { name: 'Add exchange' }).click();
      const entry = { list: 'exchanges', entry: index + 1 };
      await amara.write('speaker', speaker, entry);
      await amara.write('content', `Exchange ${index + 1}: what ${speaker} said.`, entry);
      await amara.write('feelings', `Feeling ${index + 1}`, entry);
      await amara.write('analysis', `Skill used ${index + 1}`, entry);
    }
    await shot(amara.page, 'process-recording');
    await amara.button('Submit for review').click();
    await amara.page.locator('.status', { hasText: 'Submitted' }).waitFor();
    await amara.syncNow();

    grace = await Phone.open(browser, appUrl, 'grace');
    await grace.setPassphrase();
    await grace.signIn('grace', server.url);
    await grace.syncNow();
    await grace.home();
    await grace.openCase(CLIENT);
    await grace.page.locator('.timeline .card', { hasText: 'Process recording' }).click();
    const entries = await grace.page.locator('[data-list="exchanges"] [data-entry]').count();
    assert.equal(entries, 5);
    await grace.write('supervisor_comment', 'Good use of reflection here.', { list: 'exchanges', entry: 3 });
    await grace.write('supervisor_overall', 'A careful recording; explore the silences next time.');
    await shot(grace.page, 'supervisor-review');
    await grace.syncNow();
    await amara.syncNow();
    await amara.back();
    assert.equal(
      await amara.field('supervisor_comment', { list: 'exchanges', entry: 3 }).inputValue(),
      'Good use of reflection here.',
    );
  });

  test('a group session records attendance for six members', async () => {
    await amara.home();
    await amara.openCase(CLIENT);
    await amara.newRecord('Group session');
    await amara.write('group_name', 'Carers together');
    const members = [
      ['Adaeze', 'Present'], ['Bola', 'Late'], ['Chidi', 'Absent'],
      ['Dami', 'Present'], ['Efe', 'Excused'], ['Funmi', 'Present'],
    ];
    for (const [index, [name, attendance]] of members.entries()) {
      await amara.page.getByRole('button', { name: 'Add member' }).click();
      const entry = amara.page.locator(`[data-list="members"] [data-entry="${index + 1}"]`);
      await amara.write('name', name, { list: 'members', entry: index + 1 });
      await entry.getByRole('button', { name: attendance, exact: true }).click();
      await entry.getByRole('button', { name: attendance, exact: true, pressed: true }).waitFor();
    }
    await shot(amara.page, 'group-session');
    await amara.page.reload();
    await amara.unlock();
    await amara.openCase(CLIENT);
    await amara.page.locator('.timeline .card', { hasText: 'Group session' }).click();
    for (const [index, [name, attendance]] of members.entries()) {
      const entry = amara.page.locator(`[data-list="members"] [data-entry="${index + 1}"]`);
      assert.equal(await entry.locator('input[name="name"]').inputValue(), name);
      await entry.getByRole('button', { name: attendance, exact: true, pressed: true }).waitFor();
    }
  });

  test('a finalised note takes an addendum, and its history shows both authors', async () => {
    await amara.home();
    await amara.openCase(CLIENT);
    await amara.page.locator('.timeline .card', { hasText: 'Home visit' }).click();
    await amara.button('Submit for review').click();
    await amara.page.locator('.status', { hasText: 'Submitted' }).waitFor();
    await amara.syncNow();

    await grace.syncNow();
    await grace.home();
    await grace.openCase(CLIENT);
    await grace.page.locator('.timeline .card', { hasText: 'Home visit' }).click();
    await grace.button('Approve and sign').click();
    await grace.page.locator('.status', { hasText: 'Finalised' }).waitFor();
    await grace.syncNow();

    await amara.syncNow();
    await amara.back();
    await amara.page.locator('.status', { hasText: 'Finalised' }).waitFor();
    assert.notEqual(await amara.field('observed_client').getAttribute('readonly'), null, 'a finalised note is read-only');
    await amara.page.getByLabel('Reason for the addendum').fill('Daughter’s phone number was wrong.');
    await amara.page.getByLabel('Addendum', { exact: true }).fill('Correct number confirmed with the GP surgery.');
    await amara.button('Add addendum').click();
    await amara.page.locator('.addenda .amendment', { hasText: 'Correct number confirmed' }).waitFor();
    await shot(amara.page, 'finalised-with-addendum');
    await amara.button('History').click();
    const authors = await amara.page.locator('.authors').innerText();
    assert.match(authors, /amara/);
    assert.match(authors, /grace/);
    await amara.page.locator('.change.amendment').first().waitFor();
    await amara.page.locator('.as-signed textarea[name="observed_client"]').waitFor();
    await shot(amara.page, 'history');
  });

  test('a second tab of the app waits until the first is closed', async () => {
    const second = await amara.context.newPage();
    await second.goto(appUrl);
    await second.locator('.open-elsewhere').waitFor();
    await shot(second, 'open-in-another-tab');
    assert.equal(await second.getByLabel('Passphrase', { exact: true }).count(), 0, 'the second tab must not open the store while the first holds it');
    await amara.page.close();
    amara.page = second;
    await amara.unlock();
    await amara.page.locator('.card', { hasText: CLIENT }).waitFor();
  });
});
