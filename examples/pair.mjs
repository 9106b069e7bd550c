// Pair with the only attached iPhone ("Trust this computer?"), then read two lockdown values.
// Run: node pair.mjs   (Ctrl-C gives up; nothing is saved unless the person taps Trust)
import { connectLockdown, openDevice, pair } from 'iosdevice';

const cancel = new AbortController();
process.once('SIGINT', () => cancel.abort());

const device = await openDevice();
const messages = {
  'waiting-for-trust': 'Tap "Trust" on your iPhone…',
  'device-locked': 'Unlock your iPhone to see the trust dialog…',
  denied: 'You tapped "Don\'t Trust".',
  paired: 'Paired.',
};
try {
  await pair(device, { signal: cancel.signal, onTrustEvent: (e) => messages[e.type] && console.log(messages[e.type]) });
} catch (e) {
  if (e.code === 'ERR_PAIRING_DENIED' || e.code === 'ERR_ABORTED') process.exit(1);
  throw e;
}

const lockdown = await connectLockdown(device);
try {
  console.log(`DeviceName: ${await lockdown.getValue('DeviceName')}`);
  console.log(`ProductVersion: ${await lockdown.getValue('ProductVersion')}`);
} finally {
  lockdown.close();
}
