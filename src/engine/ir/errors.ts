/** Raised while building a graph: names the op, the input shapes and what was expected. */
export class GraphBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GraphBuildError';
  }
}

export function buildError(op: string, inputs: string, expected: string): GraphBuildError {
  return new GraphBuildError(`${op}: ${expected} (got ${inputs})`);
}
