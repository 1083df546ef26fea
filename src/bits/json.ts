/** JSON values as the CLI and the eval contract read and write them. */
import { badInput } from './errors.js';

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export type JsonObject = { [k: string]: Json };

/** `v` as a JSON object, or a typed input error at `where`. */
export function jsonObject(v: unknown, where: string): JsonObject {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) badInput(where, 'expected an object');
  return v as JsonObject;
}
