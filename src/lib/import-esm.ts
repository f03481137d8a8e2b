/**
 * `import()` of an ES-module-only package from our CommonJS code. TypeScript (module node16, CJS output) and
 * @swc/jest both turn a literal `import()` into `require()`, which Node 20 and Jest refuse for packages such as
 * hyparquet(-writer). A Function body is compiled by neither, so this stays a real dynamic import under node,
 * tsx and jest (whose --experimental-vm-modules mode resolves it). Type it with
 * `typeof import('pkg', { with: { 'resolution-mode': 'import' } })`.
 */
const dynamicImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

export function importEsm<T>(specifier: string): Promise<T> {
  return dynamicImport(specifier) as Promise<T>;
}
