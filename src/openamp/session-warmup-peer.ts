/**
 * Worker entry of a session warm-up (./session-warmup.ts): the other role of the private pair, over the private file
 * and socket it is given. Exits with code 0 when its role ended normally.
 */
import { workerData } from 'node:worker_threads';
import { driveWarmUpHost, openWarmUpSession, type WarmUpPeerData } from './session-warmup.js';
import { runEchoRemote } from './echo.js';
import { warmUpRpmsg } from './warmup.js';

const d = workerData as WarmUpPeerData;
warmUpRpmsg(d.messages);
const s = await openWarmUpSession(d.role, d.shmPath, d.socketPath, d.options);
if (d.role === 'host') await driveWarmUpHost(s, d.messages, d.options.timeoutMs);
else await runEchoRemote(s, { warmup: 0 });
