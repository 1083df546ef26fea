/**
 * A resizable ArrayBuffer (ES2024; Node 20 has it, the project's lib setting predates it): the
 * storage of the host and guest memory arenas. It grows in place, so views made earlier stay
 * valid, and pages it has not touched are not committed.
 */
export interface ResizableBuffer extends ArrayBuffer {
  readonly maxByteLength: number;
  resize(byteLength: number): void;
}

/** V8's limit on a resizable ArrayBuffer's maxByteLength. */
export const RESIZABLE_MAX_BYTES = 2 ** 32;

const Ctor = ArrayBuffer as unknown as new (byteLength: number, opts: { maxByteLength: number }) => ResizableBuffer;

/** An empty buffer that can grow to maxBytes (capped at RESIZABLE_MAX_BYTES). */
export function resizableBuffer(maxBytes: number): ResizableBuffer {
  return new Ctor(0, { maxByteLength: Math.min(RESIZABLE_MAX_BYTES, maxBytes) });
}
