/** AFC (Apple File Conduit): codec, client, streams and the folder-backed server. */
export * from './protocol.ts';
export * from './codec.ts';
export { AfcError, afcErrorCode } from './errors.ts';
export { AfcConnection, type AfcReply, type AfcRequestOpts, type AfcConnectionOptions } from './connection.ts';
export { AfcClient, type AfcClientOptions } from './client.ts';
export type { AfcFileInfo, AfcDeviceInfo, AfcFileType } from './file-info.ts';
export type { AfcReadStreamOptions } from './read-stream.ts';
export type { AfcWriteStreamOptions } from './write-stream.ts';
export type { TransferOptions, TransferProgress, TransferResult } from './transfer.ts';
export { serveAfc, type AfcServerOptions, type AfcServerHandle } from './server.ts';
