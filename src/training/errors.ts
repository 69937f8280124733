/** A problem the user can fix (bad flag, bad file, diverged run): printed as one line, no stack. */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}
