/**
 * Raised for anything wrong with data on disk or on the wire. The message always names the file
 * (or URL) and says what is wrong and, where there is one, what to do about it: users meet these
 * errors at the command line, far from the code that raised them.
 */
export class DataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataError';
  }
}
