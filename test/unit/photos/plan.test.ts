import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeviceFile } from '../../../src/photos/layout.ts';
import { Manifest } from '../../../src/photos/manifest.ts';
import { PLAN_CHECKS, planCopies } from '../../../src/photos/plan.ts';

const file = (name: string, size: number, mtimeNs = 7n): DeviceFile => {
  const d = new Date(0);
  return { remote: `/DCIM/100APPLE/${name}`, rel: ['100APPLE', name], relPath: `100APPLE/${name}`, size, mtime: d, mtimeNs, birthtime: d };
};

test('plan: the same decisions whether DEST is checked in the event loop or through the thread pool (up to date, missing, truncated, a folder or a symlink in the way, changed on the device, new)', async () => {
  const dest = await mkdtemp(join(tmpdir(), 'photos-plan-'));
  const saved = { ...PLAN_CHECKS };
  try {
    await mkdir(join(dest, '100APPLE', 'IMG_4.JPG'), { recursive: true }); // a folder took the name
    await writeFile(join(dest, '100APPLE', 'IMG_1.JPG'), 'aaaa');
    await writeFile(join(dest, '100APPLE', 'IMG_3.JPG'), 'c'); // truncated
    await writeFile(join(dest, '100APPLE', 'IMG_6.JPG'), 'ffff');
    await writeFile(join(dest, 'elsewhere'), 'eeee');
    await symlink(join(dest, 'elsewhere'), join(dest, '100APPLE', 'IMG_5.JPG'));
    const m = await Manifest.open(dest);
    const files = [1, 2, 3, 4, 5, 6].map((i) => file(`IMG_${i}.JPG`, 4));
    for (const f of files) await m.record({ udid: 'U', remote: f.remote, size: 4, mtimeNs: '7', sha256: 'ab'.repeat(32), local: f.relPath });
    const selected = [...files, file('IMG_6.JPG', 4, 8n), file('IMG_7.JPG', 3)]; // IMG_6 changed since (other mtime); IMG_7 new
    selected.splice(5, 1);
    const summarise = async (): Promise<string[]> => {
      const p = await planCopies(dest, m, 'U', selected);
      return selected.map((f) => `${f.relPath}:${!p.todo.has(f) ? 'skip' : p.repairs.has(f) ? `repair(${p.repairs.get(f)!.found.kind})` : 'copy'}`);
    };
    const expected = ['100APPLE/IMG_1.JPG:skip', '100APPLE/IMG_2.JPG:repair(missing)', '100APPLE/IMG_3.JPG:repair(file)', '100APPLE/IMG_4.JPG:copy', '100APPLE/IMG_5.JPG:copy', '100APPLE/IMG_6.JPG:copy', '100APPLE/IMG_7.JPG:copy'];
    assert.deepEqual(await summarise(), expected);
    PLAN_CHECKS.sliceMs = 0; // no check in the event loop: all of them through the thread pool
    assert.deepEqual(await summarise(), expected);
    const repair = (await planCopies(dest, m, 'U', selected)).repairs.get(selected[1]!)!;
    assert.equal(repair.entry.sha256, 'ab'.repeat(32));
    assert.equal(repair.entry.local, '100APPLE/IMG_2.JPG');
    await m.close();
  } finally {
    Object.assign(PLAN_CHECKS, saved);
    await rm(dest, { recursive: true, force: true });
  }
});
