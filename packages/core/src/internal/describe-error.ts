import type { DeadLetterError } from '../record/dead-letter.js';

/** Turns anything thrown into the serializable shape dead letters carry. */
export function describeError(error: unknown): DeadLetterError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return { name: error.name, code: typeof code === 'string' ? code : 'UNKNOWN', message: error.message };
  }
  return { name: 'Error', code: 'UNKNOWN', message: String(error) };
}
