/**
 * `iosdevice/afc`: Apple File Conduit. {@link AfcClient} (stat, readdir, walk, streams, pull/push with progress,
 * files and folders; requests pipelined on one connection), the wire constants and the status error, and the
 * device side ({@link serveAfc}: a folder served as the media partition), and {@link connectRecycled} (a socket
 * whose reads go into reused memory, for an AfcClient on a socket of your own). The codec is internal.
 */
export { AfcClient, type AfcClientOptions, type ReaddirOpts } from './client.ts';
export { AfcBadReplyError, AfcDirNotEmptyError, AfcError, afcErrorCode, AfcTooManyEntriesError, type AfcErrorCode, type AfcStatusName } from './errors.ts';
export { AFC_DEFAULT_READ_SIZE, AfcLinkType, AfcLockOp, AfcOpcode, AfcOpenMode, AfcStatus, AfcWhence, opcodeName } from './protocol.ts';
export type { AfcDeviceInfo, AfcFileInfo, AfcFileType } from './file-info.ts';
export type { AfcFileIo, AfcReadStreamOptions, AfcStreamingReadOpts, AfcTreeIo, AfcWriteStreamOptions } from './file-io.ts';
export { connectRecycled } from '../core/read-recycler.ts';
export { pullPath, pushPath, type AfcTransferClient, type TransferOptions, type TransferProgress, type TransferResult } from './transfer.ts';
export { serveAfc, type AfcServerHandle, type AfcServerOptions } from './server.ts';
export type { AfcServicePacer } from './server-pacer.ts';
