// node:test reporter that prints only a final "N passed, N failed, N skipped" line.
// Counts leaf tests (suites are not counted); a failing suite hook counts as a failure.
export default async function* summary(source) {
  let passed = 0, failed = 0, skipped = 0;
  for await (const ev of source) {
    if (ev.type !== 'test:pass' && ev.type !== 'test:fail') continue;
    const d = ev.data;
    const isSuite = d.details?.type === 'suite';
    if (ev.type === 'test:pass') {
      if (isSuite) continue;
      if (d.skip || d.todo) skipped++;
      else passed++;
    } else if (!isSuite || d.details?.error?.failureType !== 'subtestsFailed') {
      failed++;
    }
  }
  yield `\n${passed} passed, ${failed} failed, ${skipped} skipped\n`;
}
