// Error hierarchy: one base class, named subclasses; messages name the op/file, the argument, expected vs got.

/** Base class of every error lutnn throws on purpose. */
export class LutnnError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** Shapes that do not fit the op (`matmul: inner dims 3 vs 4 for [2,3]x[4,5]`). */
export class ShapeError extends LutnnError {}
/** A dtype the op does not accept. */
export class DTypeError extends LutnnError {}
/** An argument out of its allowed range or of the wrong kind. */
export class ArgumentError extends LutnnError {}
/** NaN or infinite values where finite values are required. */
export class NonFiniteError extends LutnnError {}
/** A malformed, truncated or inconsistent file (model, checkpoint, dataset). */
export class FormatError extends LutnnError {}
/** Autograd misuse (backward on a non-scalar without a gradient, backward twice, ...). */
export class AutogradError extends LutnnError {}
/** A path that is missing, unreadable or not the kind of file expected (`models/: is a directory, expected a .safetensors file`). */
export class FileError extends LutnnError {}
/** The WebAssembly backend could not be loaded or ran out of memory. */
export class BackendError extends LutnnError {}
/** A model or batch that would need more memory than the configured limit (refused before allocating it). */
export class LimitError extends LutnnError {}

/** `[2,3]` — how shapes appear in messages. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(',')}]`;
}
