import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import fc from 'fast-check';
import { duplexPair } from '../../../src/core/duplex-pair.ts';
import { encodeLockdownFrame, LockdownFrameDecoder } from '../../../src/lockdown/codec.ts';
import { serveLockdown } from '../../../src/lockdown/server.ts';
import type { PlistDict, PlistValue } from '../../../src/plist/types.ts';
import { makeDevice } from './helpers.ts';

const REQUESTS = ['QueryType', 'GetValue', 'SetValue', 'RemoveValue', 'StartService', 'StopSession', 'Pair', 'ValidatePair', 'Unpair', 'EnterRecovery', 'Bogus'];
const KEYS = ['Key', 'Domain', 'Value', 'Service', 'SessionID', 'PairRecord', 'HostID', 'SystemBUID', 'EscrowBag', 'Label'];

const value: fc.Arbitrary<PlistValue> = fc.oneof(
  fc.string({ maxLength: 12 }),
  fc.integer(),
  fc.boolean(),
  fc.uint8Array({ maxLength: 16 }).map((a) => Buffer.from(a)),
  fc.constantFrom('DeviceName', 'ProductVersion', 'SerialNumber', 'com.apple.afc', 'com.apple.mobile.battery'),
  fc.dictionary(fc.constantFrom('HostID', 'DeviceCertificate', 'RootCertificate', 'HostCertificate', 'SystemBUID'), fc.string({ maxLength: 8 }), { maxKeys: 5 }),
);

test('property: any request dict (StartSession excluded) gets exactly one reply echoing Request, and the device keeps serving', async () => {
  const device = makeDevice();
  await fc.assert(
    fc.asyncProperty(
      fc.array(
        fc.record({ Request: fc.oneof(fc.constantFrom(...REQUESTS), fc.string({ maxLength: 8 })), extra: fc.dictionary(fc.constantFrom(...KEYS), value, { maxKeys: 4 }) }),
        { minLength: 1, maxLength: 6 },
      ),
      async (reqs) => {
        const [a, b] = duplexPair();
        const server = serveLockdown(b, device);
        const d = new LockdownFrameDecoder();
        a.on('data', (c: Buffer) => d.push(c));
        try {
          for (const r of reqs) {
            if (r.Request === 'StartSession' || r.Request === 'Goodbye') continue;
            const msg: PlistDict = { ...r.extra, Request: r.Request };
            a.write(Buffer.concat(encodeLockdownFrame(msg)));
            let reply = d.next();
            while (!reply) {
              await once(a, 'data');
              reply = d.next();
            }
            assert.equal(reply.Request, r.Request);
          }
          // still alive and sane
          a.write(Buffer.concat(encodeLockdownFrame({ Request: 'QueryType' })));
          let last = d.next();
          while (!last) {
            await once(a, 'data');
            last = d.next();
          }
          assert.equal(last.Type, 'com.apple.mobile.lockdown');
        } finally {
          a.destroy();
          await server.closed;
        }
      },
    ),
    { numRuns: 150, seed: 7 },
  );
});
