/**
 * Why `value` is not JSON-compatible (with the path to the offending part), or `undefined` when it is: plain objects,
 * arrays without holes, finite numbers, strings, booleans and `null`. The rule every `StateStore` applies to
 * state values, so a topology that runs against one store does not fail against another.
 *
 * @example
 * ```ts
 * jsonProblem({ at: new Date(0) }); // 'value.at is a Date, not a plain object'
 * jsonProblem({ count: 3 }); // undefined
 * ```
 */
export function jsonProblem(value: unknown, path = 'value', ancestors: object[] = []): string | undefined {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return undefined;
    case 'number':
      return Number.isFinite(value) ? undefined : `${path} is ${String(value)}, which JSON cannot represent`;
    case 'object': {
      if (value === null) return undefined;
      if (ancestors.includes(value)) return `${path} refers back to one of its parents (a cycle)`;
      ancestors.push(value);
      try {
        if (Array.isArray(value)) {
          for (let index = 0; index < value.length; index++) {
            if (!(index in value)) return `${path}[${index}] is a hole in a sparse array`;
            const problem = jsonProblem(value[index], `${path}[${index}]`, ancestors);
            if (problem !== undefined) return problem;
          }
          return undefined;
        }
        const prototype = Object.getPrototypeOf(value) as unknown;
        if (prototype !== Object.prototype && prototype !== null) {
          const kind = (value as { constructor?: { name?: string } }).constructor?.name ?? 'class instance';
          return `${path} is a ${kind}, not a plain object`;
        }
        for (const key of Object.keys(value)) {
          const problem = jsonProblem((value as Record<string, unknown>)[key], `${path}.${key}`, ancestors);
          if (problem !== undefined) return problem;
        }
        return undefined;
      } finally {
        ancestors.pop();
      }
    }
    default:
      return `${path} is ${typeof value === 'undefined' ? 'undefined' : `a ${typeof value}`}, which JSON cannot represent`;
  }
}
