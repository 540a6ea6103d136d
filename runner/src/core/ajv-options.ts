/**
 * Options of every ajv instance: the one that compiles users' input schemas
 * at run time and the one that precompiles the repository's schemas and the
 * meta-schema (scripts/schema-validators.ts). Both must report alike.
 */
export const AJV_OPTIONS = { allErrors: true, strict: false, verbose: true, validateFormats: true } as const;

/** The draft every input schema is written in, unless it names another with `$schema`. */
export const META_SCHEMA_ID = "https://json-schema.org/draft/2020-12/schema";
