/**
 * One line per sub-command for `iosdevice --help`, so that the overview starts without importing any command
 * module (each pulls in its layers). The command files stay the source of truth: test/unit/cli/help.test.ts checks
 * that this table names exactly the files in commands/ and repeats each `summary` word for word.
 */
export const COMMAND_SUMMARIES: Readonly<Record<string, string>> = {
  afc: 'files on the device (ls, stat, cat, pull, push, rm, mkdir, mv, df)',
  capture: 'record usbmuxd traffic to pcapng through a proxy socket',
  decode: 'decode a pcapng capture of usbmuxd traffic (usbmux, lockdown incl. TLS with a key log, AFC)',
  demo: 'back up the photos of a built-in virtual iPhone (shows pairing, progress, incremental rerun)',
  emulator: 'run a virtual iPhone behind a usbmuxd socket (for libimobiledevice, ifuse, tests)',
  info: 'show device information (lockdown values)',
  list: 'list attached devices (via usbmuxd)',
  listen: 'print device attach/detach/pair events',
  pair: 'pair with the device ("Trust this computer") and save the pair record',
  photos: 'back up the camera roll (incremental, resumable): photos backup DEST; check a backup: photos verify DEST; on every plug-in: photos watch DEST; pick and import in the browser: photos ui [DEST]',
  unpair: 'make the device forget this computer and delete the pair record',
  usbmuxd: 'usbmuxd-compatible daemon over our own USB transport',
  validate: 'check that the pair record still works (TLS session)',
};
