/** A model-level problem the user can fix (unknown task head, invalid config). */
export class ModelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ModelError';
  }
}
