/**
 * The capability check shared by the loader and the registry: every `requires` must be provided by the host
 * or by an item that starts earlier (order, then name). Pure; returns the first problem of each item.
 */
import { ServiceDependencyError } from '../coreapi/service-errors.js';

export interface DependencyItem {
  readonly name: string;
  readonly order: number;
  readonly provides: readonly string[];
  readonly requires: readonly string[];
}

/** Start order: by `order`, ties by name. */
export function byStartOrder(a: { name: string; order: number }, b: { name: string; order: number }): number {
  return a.order - b.order || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** Items whose requirements are unmet, each with its error (items need not be sorted). */
export function findDependencyProblems<T extends DependencyItem>(
  items: readonly T[],
  hostCapabilities: ReadonlySet<string>,
  noun = 'service',
): Map<T, ServiceDependencyError> {
  const sorted = [...items].sort(byStartOrder);
  const position = new Map<string, number>();
  sorted.forEach((item, i) => {
    for (const cap of item.provides) if (!position.has(cap)) position.set(cap, i);
  });
  const problems = new Map<T, ServiceDependencyError>();
  sorted.forEach((item, i) => {
    for (const cap of item.requires) {
      if (hostCapabilities.has(cap)) continue;
      const at = position.get(cap);
      if (at !== undefined && at < i) continue;
      const why =
        at === undefined
          ? `which no ${noun} provides`
          : `provided by "${sorted[at].name}" which starts later`;
      problems.set(
        item,
        new ServiceDependencyError(`${noun} "${item.name}" requires "${cap}", ${why}`, {
          details: { service: item.name, capability: cap },
        }),
      );
      break;
    }
  });
  return problems;
}
