/**
 * An error the user can fix: bad input, a bad flag, a model that does not fit the adapter.
 * The CLIs print its message as one line and exit non-zero, never a stack trace.
 */
export class UserError extends Error {
  /** A one-line message that says what is wrong and how to fix it. */
  constructor(message: string) {
    super(message);
    this.name = "UserError";
  }
}
