// A small backup tool on iosdevice/photos: your own destination layout (one folder per month) and your own
// progress display. The engine keeps what matters: verified copies, never overwriting, incremental reruns.
// Run: node my-backup.mjs ~/Pictures/iPhone
import { openDevice, pair, photoDevice } from 'iosdevice';
import { runBackup } from 'iosdevice/photos';

const dest = process.argv[2] ?? './iphone-by-month';
const device = await openDevice();
if (!(await device.pairRecords.read(device.udid))) {
  await pair(device, { onTrustEvent: (e) => e.type === 'waiting-for-trust' && console.log('Tap "Trust" on your iPhone…') });
}

const stop = new AbortController();
process.once('SIGINT', () => stop.abort());

const byMonth = {
  needsCaptureDate: true, // EXIF / QuickTime date of each group, else the file's time
  folderFor: (file, captured) => [captured ? captured.slice(0, 7) : 'undated'], // "2024-03"
};

const summary = await runBackup({
  device: photoDevice(device),
  dest,
  layout: byMonth,
  signal: stop.signal,
  onEvent: (e) => {
    if (e.type === 'plan') console.log(`${e.found} files on the phone, ${e.toCopy} new`);
    if (e.type === 'progress') process.stdout.write(`\r${e.filesDone}/${e.filesTotal} files`);
    if (e.type === 'file' && e.status === 'failed') console.log(`\n${e.remote}: ${e.code}`);
  },
});
console.log(`\n${summary.status}: ${summary.copied} copied, ${summary.skipped} already there, ${summary.failed.length} failed`);
process.exitCode = summary.status === 'complete' ? 0 : 1;
