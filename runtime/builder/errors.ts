/** Errors of the function builder. */

/**
 * A function could not be built: bad manifest, compiler or linker errors.
 * `output` holds the tool's own diagnostics (stderr), verbatim.
 */
export class BuildError extends Error {
  constructor(message: string, readonly output: string = "") {
    super(message);
    this.name = "BuildError";
  }
}
