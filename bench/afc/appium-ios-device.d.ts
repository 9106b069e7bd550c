/** The part of appium-ios-device's public API the peer row uses (the package ships no typings for its entry point). */
declare module 'appium-ios-device' {
  import type { Readable } from 'node:stream';
  interface AppiumFileInfo {
    size: number;
    isDirectory(): boolean;
    isFile(): boolean;
  }
  interface AppiumAfcService {
    getFileInfo(path: string): Promise<AppiumFileInfo>;
    walkDir(dir: string, recursive: boolean, onPath: (itemPath: string, isDirectory: boolean) => unknown): Promise<void>;
    createReadStream(path: string, opts: { highWaterMark?: number; autoDestroy?: boolean }): Promise<Readable>;
    close(): void;
  }
  export const utilities: { getConnectedDevices(): Promise<string[]> };
  export const services: { startAfcService(udid: string): Promise<AppiumAfcService> };
}
