/**
 * Response-shape checks for the loopback server: @nktkas/hyperliquid's response types (loopback-api-types.ts)
 * turned into strict JSON schemas (no extra fields, exact tuples, every required field) by
 * ts-json-schema-generator — what the library's own test suite does against the live API — and validated
 * with ajv. A field the server adds, drops or mistypes fails the test; so does drift of the library's types
 * (i.e. of the real API) after an upgrade.
 */
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { createGenerator } from 'ts-json-schema-generator';
import ts from 'typescript';

const TYPES_FILE = fileURLToPath(new URL('./loopback-api-types.ts', import.meta.url));

let generator: ReturnType<typeof createGenerator> | undefined;
const ajv = new Ajv({ allErrors: true, strict: false });
const compiled = new Map<string, ValidateFunction>();

function schemaGenerator(): ReturnType<typeof createGenerator> {
  if (!generator) {
    const program = ts.createProgram([TYPES_FILE], {
      target: ts.ScriptTarget.ES2022,
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
    });
    generator = createGenerator({
      tsProgram: program,
      path: TYPES_FILE,
      skipTypeCheck: true,
      additionalProperties: false,
      strictTuples: true,
      expose: 'none',
      topRef: false,
      jsDoc: 'none',
    });
  }
  return generator;
}

/**
 * Build the TypeScript program now (≈1.5 s of CPU, synchronous): call before starting servers, so the first
 * check does not block the event loop in the middle of a test.
 */
export function warmSchemas(): void {
  schemaGenerator();
}

/** Validate `data` against the library type `typeName`; fails the test with every mismatch listed. */
export function assertShape(typeName: string, data: unknown, what = typeName): void {
  let validate = compiled.get(typeName);
  if (!validate) {
    const schema = schemaGenerator().createSchema(typeName);
    validate = ajv.compile(schema);
    compiled.set(typeName, validate);
  }
  if (!validate(data)) {
    const errors = (validate.errors ?? [])
      .slice(0, 8)
      .map((e) => `${e.instancePath || '/'} ${e.message} ${JSON.stringify(e.params)}`);
    assert.fail(
      `${what} does not match @nktkas/hyperliquid's ${typeName}:\n  ${errors.join('\n  ')}\n${JSON.stringify(data).slice(0, 600)}`,
    );
  }
}

/** Decimal strings as the exchange writes them: digits, optional sign, a point and at least one decimal. */
export function assertDecimal(s: unknown, what: string): void {
  assert.ok(
    typeof s === 'string' && /^-?\d+\.\d+$/.test(s),
    `${what}: expected a decimal string like "3350.0", got ${JSON.stringify(s)}`,
  );
}
