/**
 * AFC (Apple File Conduit) wire constants. Every integer is little-endian.
 *
 * ```
 * offset size field            notes
 *  0      8   magic            "CFA6LPAA" (u64 0x4141504C36414643, AFC_MAGIC)
 *  8      8   entire_length    header + header_payload + data
 * 16      8   this_length      header + header_payload (>= 40)
 * 24      8   packet_num       chosen by the client, echoed by the device
 * 32      8   operation        AfcOpcode
 * 40      this_length - 40     header_payload: u64 arguments, then NUL-terminated paths
 * this    entire - this        data: WRITE bytes (requests); DATA / STATUS content (replies)
 * ```
 * Apple's device sends STATUS / FILE_OPEN_RES / TELL_RES with this = entire = 48 (the u64 in the header
 * payload) and DATA with this = 40 (the bytes in the data area). Readers must be placement-agnostic: a
 * reply's content is `header_payload ‖ data` and a result u64 is read from its start.
 */

/** "CFA6LPAA": the 8 magic bytes every packet starts with. */
export const AFC_MAGIC = Buffer.from('CFA6LPAA', 'latin1');
/** Size of the fixed header in bytes. */
export const AFC_HEADER_SIZE = 40;

/** Operation codes with Apple's names (libimobiledevice afc.h AFC_OP_*). */
export const AfcOpcode = {
  Status: 0x01, // AFC_OP_STATUS (reply)
  Data: 0x02, // AFC_OP_DATA (reply)
  ReadDir: 0x03, // AFC_OP_READ_DIR
  ReadFile: 0x04, // AFC_OP_READ_FILE (unused)
  WriteFile: 0x05, // AFC_OP_WRITE_FILE (unused)
  WritePart: 0x06, // AFC_OP_WRITE_PART (unused)
  TruncateFile: 0x07, // AFC_OP_TRUNCATE
  RemovePath: 0x08, // AFC_OP_REMOVE_PATH
  MakeDir: 0x09, // AFC_OP_MAKE_DIR
  GetFileInfo: 0x0a, // AFC_OP_GET_FILE_INFO
  GetDeviceInfo: 0x0b, // AFC_OP_GET_DEVINFO
  WriteFileAtomic: 0x0c, // AFC_OP_WRITE_FILE_ATOM (unused)
  FileRefOpen: 0x0d, // AFC_OP_FILE_OPEN
  FileRefOpenResult: 0x0e, // AFC_OP_FILE_OPEN_RES (reply)
  FileRefRead: 0x0f, // AFC_OP_FILE_READ
  FileRefWrite: 0x10, // AFC_OP_FILE_WRITE
  FileRefSeek: 0x11, // AFC_OP_FILE_SEEK
  FileRefTell: 0x12, // AFC_OP_FILE_TELL
  FileRefTellResult: 0x13, // AFC_OP_FILE_TELL_RES (reply)
  FileRefClose: 0x14, // AFC_OP_FILE_CLOSE
  FileRefSetFileSize: 0x15, // AFC_OP_FILE_SET_SIZE (ftruncate)
  GetConnectionInfo: 0x16, // AFC_OP_GET_CON_INFO
  SetConnectionOptions: 0x17, // AFC_OP_SET_CON_OPTIONS
  RenamePath: 0x18, // AFC_OP_RENAME_PATH
  SetFSBlockSize: 0x19, // AFC_OP_SET_FS_BS
  SetSocketBlockSize: 0x1a, // AFC_OP_SET_SOCKET_BS
  FileRefLock: 0x1b, // AFC_OP_FILE_LOCK
  MakeLink: 0x1c, // AFC_OP_MAKE_LINK
  GetFileHash: 0x1d, // AFC_OP_GET_FILE_HASH (layout unverified)
  SetModTime: 0x1e, // AFC_OP_SET_FILE_MOD_TIME
  GetFileHashWithRange: 0x1f, // AFC_OP_GET_FILE_HASH_RANGE (layout unverified)
  FileRefSetImmutableHint: 0x20, // AFC_OP_FILE_SET_IMMUTABLE_HINT (iOS 6+)
  GetSizeOfPathContents: 0x21, // AFC_OP_GET_SIZE_OF_PATH_CONTENTS (iOS 6+)
  RemovePathAndContents: 0x22, // AFC_OP_REMOVE_PATH_AND_CONTENTS (iOS 6+)
  DirectoryEnumeratorRefOpen: 0x23, // AFC_OP_DIR_OPEN (iOS 6+)
  DirectoryEnumeratorRefOpenResult: 0x24, // AFC_OP_DIR_OPEN_RESULT
  DirectoryEnumeratorRefRead: 0x25, // AFC_OP_DIR_READ
  DirectoryEnumeratorRefClose: 0x26, // AFC_OP_DIR_CLOSE
  FileRefReadWithOffset: 0x27, // AFC_OP_FILE_READ_OFFSET (iOS 7+)
  FileRefWriteWithOffset: 0x28, // AFC_OP_FILE_WRITE_OFFSET (iOS 7+)
} as const;
export type AfcOpcode = (typeof AfcOpcode)[keyof typeof AfcOpcode];

const OPCODE_NAMES = new Map<number, string>(Object.entries(AfcOpcode).map(([k, v]) => [v, k]));

/** Name of an opcode for messages ("0x2a" when unknown). */
export function opcodeName(op: number): string {
  return OPCODE_NAMES.get(op) ?? `0x${op.toString(16)}`;
}

/** Status codes exactly as the device sends them (0-23). Local errors never use this space. */
export const AfcStatus = {
  SUCCESS: 0,
  UNKNOWN_ERROR: 1,
  OP_HEADER_INVALID: 2,
  NO_RESOURCES: 3,
  READ_ERROR: 4,
  WRITE_ERROR: 5,
  UNKNOWN_PACKET_TYPE: 6,
  INVALID_ARG: 7,
  OBJECT_NOT_FOUND: 8,
  OBJECT_IS_DIR: 9,
  PERM_DENIED: 10,
  SERVICE_NOT_CONNECTED: 11,
  OP_TIMEOUT: 12,
  TOO_MUCH_DATA: 13,
  END_OF_DATA: 14,
  OP_NOT_SUPPORTED: 15,
  OBJECT_EXISTS: 16,
  OBJECT_BUSY: 17,
  NO_SPACE_LEFT: 18,
  OP_WOULD_BLOCK: 19,
  IO_ERROR: 20,
  OP_INTERRUPTED: 21,
  OP_IN_PROGRESS: 22,
  INTERNAL_ERROR: 23,
} as const;
export type AfcStatus = (typeof AfcStatus)[keyof typeof AfcStatus];

/** FileRefOpen modes (AFC_FOPEN_*). */
export const AfcOpenMode = {
  RDONLY: 1, // "r"  O_RDONLY
  RW: 2, // "r+" O_RDWR | O_CREAT
  WRONLY: 3, // "w"  O_WRONLY | O_CREAT | O_TRUNC
  WR: 4, // "w+" O_RDWR | O_CREAT | O_TRUNC
  APPEND: 5, // "a"  O_WRONLY | O_APPEND | O_CREAT
  RDAPPEND: 6, // "a+" O_RDWR | O_APPEND | O_CREAT
} as const;
export type AfcOpenMode = (typeof AfcOpenMode)[keyof typeof AfcOpenMode];

/** fopen-style names for the open modes. */
export const OPEN_MODE_BY_NAME: Readonly<Record<string, AfcOpenMode>> = {
  r: 1,
  'r+': 2,
  w: 3,
  'w+': 4,
  a: 5,
  'a+': 6,
};

/** FileRefLock operations: flock(2) op | LOCK_NB. */
export const AfcLockOp = { SHARED: 5, EXCLUSIVE: 6, UNLOCK: 12 } as const;
export type AfcLockOp = (typeof AfcLockOp)[keyof typeof AfcLockOp];

/** FileRefSeek whence values. */
export const AfcWhence = { SET: 0, CUR: 1, END: 2 } as const;
export type AfcWhence = (typeof AfcWhence)[keyof typeof AfcWhence];

/** MakeLink types. */
export const AfcLinkType = { HARDLINK: 1, SYMLINK: 2 } as const;
export type AfcLinkType = (typeof AfcLinkType)[keyof typeof AfcLinkType];

/** Read sizes known to work on devices (protocol.md §6): 1-4 MiB. */
export const AFC_DEFAULT_READ_SIZE = 4 * 1024 * 1024;
