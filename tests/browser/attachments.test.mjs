// Attachments at a phone's size in Chromium, served as `scripts/run` serves it: with the
// network really cut (the browser's offline mode), a worker photographs a broken heater for
// her visit note (a phone's photo, 3,000 px wide with its GPS position in its EXIF) and
// attaches a scanned letter; the photo is stored downscaled and without its EXIF, and the
// letter's words are nowhere in the browser's storage. The client signs a consent with a
// finger (real pointer events). Back online, everything syncs, and a colleague sees the
// photo and the signature: first "not yet downloaded" while attachments cannot reach him,
// then on his tap. Each screen is saved under target/screenshots/.

import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Phone, SyncServer, copyOfWebBuild, freePort, launchChromium, repo, scanStorage, shot } from './harness.mjs';

const CLIENT = 'Mrs Rosa Lind';
const CAPTION = 'Broken heater in the front room';
const LETTER_CANARY = 'HOUSING-LETTER-CANARY-58d1e2';

/** Errors a page may log that are not the app's: the network cut on purpose or blocked. */
const EXPECTED_ERRORS = /Failed to load resource|ERR_|Failed to fetch|NetworkError/;

/** A one-page PDF whose text is the canary: a scanned letter, stored as it is. */
function letterPdf() {
  const text = `BT /F1 12 Tf 72 720 Td (${LETTER_CANARY}) Tj ET`;
  return Buffer.from(
    '%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n' +
      '2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n' +
      '3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >> endobj\n' +
      `4 0 obj << /Length ${text.length} >> stream\n${text}\nendstream endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n`,
  );
}

describe('Attachments on a phone', () => {
  let web, server, browser, amara, ben, photoHash;

  before(async () => {
    web = copyOfWebBuild();
    server = new SyncServer(await freePort(), web.root);
    server.seed();
    await server.start();
    browser = await launchChromium();
    amara = await Phone.signedIn(browser, `${server.url}/`, 'amara');
    ben = await Phone.signedIn(browser, `${server.url}/`, 'ben');
  });

  after(async () => {
    for (const phone of [amara, ben]) {
      if (phone) assert.deepEqual(phone.errors.filter((e) => !EXPECTED_ERRORS.test(e)), [], `${phone.name}'s page logged errors`);
    }
    await browser?.close();
    await server?.stop();
    web?.remove();
  });

  test('offline, a worker photographs a broken heater for her note: stored downscaled, without its GPS position', async () => {
    await amara.button('New case').click();
    await amara.page.getByLabel("Client's name").pressSequentially(CLIENT);
    await amara.button('Open case').click();
    await amara.page.locator('.case-head h2', { hasText: CLIENT }).waitFor();
    await amara.appShellReady();
    await amara.context.setOffline(true);
    await amara.newRecord('Home visit');
    await amara.type('observed_home', 'The heater in the front room does not work; the room is cold.');
    await amara.saved();

    const photo = readFileSync(join(repo, 'tests', 'browser', 'fixtures', 'heater-with-gps.jpg'));
    assert.ok(photo.includes(Buffer.from('Exif\0\0')), 'the phone\'s photo carries EXIF');
    const attachments = amara.page.locator('.record .attachments');
    await attachments.getByLabel('What it shows (optional)').pressSequentially(CAPTION, { delay: 20 });
    await attachments.locator('input[name="photo"]').setInputFiles({ name: 'IMG_2041.jpg', mimeType: 'image/jpeg', buffer: photo });
    const thumbnail = attachments.locator('.thumbnail', { hasText: CAPTION });
    await thumbnail.locator('img').waitFor();
    await amara.saved();
    await shot(amara.page, 'attachments-photo-offline');

    // The full view shows the photo as stored: 2,048 px wide. (Its bytes are read from the
    // server once synced, below: the page may fetch nothing but its own server.)
    photoHash = await thumbnail.getAttribute('data-hash');
    await thumbnail.getByRole('button', { name: `Open ${CAPTION}` }).click();
    const full = amara.page.locator('.attachment-view img');
    await full.waitFor();
    const stored = await full.evaluate(async (img) => {
      await img.decode();
      return { width: img.naturalWidth, height: img.naturalHeight };
    });
    assert.equal(stored.width, 2048, 'downscaled to 2,048 px on its longest side');
    assert.ok(Math.abs(stored.height - 1365) <= 1, `${stored.height} px high`);
    await shot(amara.page, 'attachments-full-view');
    await amara.back();
  });

  test('a scanned letter is attached to the case file, and its words are nowhere in the browser\'s storage', async () => {
    await amara.back();
    await amara.button('Profile, consents, goals, team').click();
    const attachments = amara.page.locator('.profile .attachments');
    await attachments.getByLabel('What it shows (optional)').pressSequentially('Letter from the housing office', { delay: 20 });
    await attachments.locator('input[name="document"]').setInputFiles({ name: 'letter.pdf', mimeType: 'application/pdf', buffer: letterPdf() });
    await attachments.locator('.thumbnail', { hasText: 'Letter from the housing office' }).locator('.document-icon').waitFor();
    await amara.saved();
    const scan = await scanStorage(amara.page, LETTER_CANARY);
    assert.equal(scan.inControl, true, 'the scan finds a plaintext canary');
    assert.equal(scan.inStore, false, 'the letter\'s words are in the stored pages');
    assert.equal(scan.inWebStorage, false);
    assert.equal(scan.inCache, false);
  });

  test('still offline, the client signs a consent with a finger', async () => {
    // Consent to be recorded, noted in the case file, then signed.
    await amara.button('Add consent').click();
    const consent = amara.page.locator('[data-list="consents"] [data-entry="1"]');
    await consent.getByRole('button', { name: 'Being recorded' }).click();
    await amara.type('details', 'Notes of home visits, kept by the agency for six years.', { where: { list: 'consents', entry: 1 } });
    await amara.saved();
    const signed = amara.page.locator('.signatures .signed-consent');
    await signed.getByRole('button', { name: 'Client signs this consent' }).click();
    const pad = amara.page.locator('.signature-pad');
    await pad.waitFor();
    const box = await pad.boundingBox();
    // A signature of two strokes, drawn as a finger would, point by point.
    const stroke = async (points) => {
      await amara.page.mouse.move(box.x + points[0][0], box.y + points[0][1]);
      await amara.page.mouse.down();
      for (const [x, y] of points.slice(1)) await amara.page.mouse.move(box.x + x, box.y + y, { steps: 4 });
      await amara.page.mouse.up();
    };
    await stroke([[30, 140], [70, 60], [110, 150], [150, 70], [190, 140]]);
    await stroke([[210, 120], [260, 80], [320, 130]]);
    assert.ok(await pad.locator('polyline').count() >= 2, 'the strokes are drawn as they are made');
    await shot(amara.page, 'attachments-signature-pad');
    await amara.button('Save the signature').click();
    const signature = amara.page.locator('.signatures .signature');
    await signature.locator('img').waitFor();
    await signature.filter({ hasText: 'The consent reads as it did when it was signed.' }).waitFor();
    await amara.saved();
    await shot(amara.page, 'attachments-signed-consent');
  });

  test('back online, it all syncs; a colleague sees "not yet downloaded", then the photo and the signature', async () => {
    await amara.context.setOffline(false);
    await amara.syncNow();
    await amara.home();
    // The photo as the server holds it, byte for byte what the phone stored (checked against
    // its hash on arrival): re-encoded, with no EXIF and no GPS directory left.
    const held = readFileSync(join(server.data, 'blobs', photoHash));
    assert.equal(held.subarray(0, 2).toString('hex'), 'ffd8', 'a JPEG');
    assert.equal(held.includes(Buffer.from('Exif\0\0')), false, 'the stored photo has no EXIF');
    assert.equal(held.includes(Buffer.from([0x88, 0x25, 0, 4])), false, 'the stored photo has no GPS directory');

    // Ben's phone cannot reach attachments for now: the record opens all the same.
    await ben.page.route('**/v1/blobs/**', (route) => route.abort());
    await ben.syncNow();
    await ben.home();
    await ben.openRecord(CLIENT, 'Home visit');
    const thumbnail = ben.page.locator('.record .attachments .thumbnail', { hasText: CAPTION });
    await thumbnail.locator('.not-downloaded', { hasText: 'Photo not yet downloaded' }).waitFor();
    await shot(ben.page, 'attachments-not-yet-downloaded');
    await ben.page.unroute('**/v1/blobs/**');
    await thumbnail.getByRole('button', { name: 'Download now' }).click();
    await thumbnail.locator('img').waitFor();
    const width = await thumbnail.locator('img').evaluate(async (img) => { await img.decode(); return img.naturalWidth; });
    assert.equal(width, 2048);
    await shot(ben.page, 'attachments-colleague-photo');

    await ben.back();
    await ben.button('Profile, consents, goals, team').click();
    await ben.syncNow();
    await ben.page.getByRole('button', { name: 'Back' }).click();
    const signature = ben.page.locator('.signatures .signature');
    await signature.locator('img').waitFor();
    await signature.filter({ hasText: 'The consent reads as it did when it was signed.' }).waitFor();
    await ben.page.locator('.profile .attachments .thumbnail', { hasText: 'Letter from the housing office' }).locator('.document-icon').waitFor();
    await shot(ben.page, 'attachments-colleague-signature');
  });
});
