// The sandbox signs its callbacks in the format the main server verifies (src/shared/signature.ts).
export * from '../shared/signature';
