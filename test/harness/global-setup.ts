// Before the privileged tests: clear what dead runs left behind.
import { sweepLeftovers } from './netns.js';

export default function setup(): void {
  if (process.getuid?.() !== 0) return; // the per-file gate reports this
  const removed = sweepLeftovers();
  if (removed.length) console.warn(`swept leftovers of earlier runs: ${removed.join(', ')}`);
}
