/** Trust checks offered to plugins (optional dependency). */

export interface TrustChecker {
  /** The peer's trust record name when trusted, or null. */
  isTrusted(nodeId: number): { readonly name: string } | null;
}
