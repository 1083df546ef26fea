/**
 * Typed errors. Every error the model raises on bad input is a ShadowMmuError with a stable
 * `code` and a message that says what was wrong and where; the CLI prints the message on one
 * line and exits 2.
 */
export type ErrorCode =
  | 'EINVAL_INPUT' // malformed or out-of-range input value
  | 'EUNKNOWN_PROFILE'
  | 'EUNKNOWN_FN'
  | 'EUNKNOWN_FIELD'
  | 'EUSAGE' // bad command-line usage
  | 'ESTATE' // operation not allowed in the model's current state
  | 'ENOMEM' // allocation failed (the kernel's -ENOMEM path)
  | 'EAUDIT'; // an invariant of the model does not hold

export class ShadowMmuError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string) {
    super(message);
    this.name = 'ShadowMmuError';
    this.code = code;
  }
}

/** Throw an input error naming the place (`where`) and what was wrong with it. */
export function badInput(where: string, what: string): never {
  throw new ShadowMmuError('EINVAL_INPUT', `${where}: ${what}`);
}
