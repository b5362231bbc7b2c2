/**
 * The coreapi contract version (semver).
 *
 * Stability rule: adding an export, an optional field or a method with a default is a minor bump; removing or
 * renaming anything, or changing a signature incompatibly, is a major bump. Plugins declare the range they
 * support in their manifest (`coreApi`), checked at load.
 */
export const CORE_API_VERSION = '1.0.0';
