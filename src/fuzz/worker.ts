/** A fuzz worker thread: runs one campaign slice and posts its result. */
import { parentPort, workerData } from 'node:worker_threads';
import { runSlice, type CampaignSlice } from './campaign.js';

parentPort!.postMessage(runSlice(workerData as CampaignSlice));
