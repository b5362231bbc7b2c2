/** One bounded health probe: a hanging, throwing or malformed `health()` reads as `failed`. */
import type { HealthStatus, Service } from '../coreapi/service.js';
import { PluginLoadError } from '../coreapi/service-errors.js';
import { runWithBudget } from './budget.js';
import { toError } from './panic-guard.js';

const LEVELS = new Set(['ok', 'degraded', 'failed']);

export async function probeHealth(service: Service, timeoutMs: number): Promise<HealthStatus> {
  try {
    // Inside the try: a throwing `health` getter rejected the whole health report (and the supervisor's probe).
    if (!service.health) return { status: 'ok' };
    const h = await runWithBudget(
      timeoutMs,
      undefined,
      () => new PluginLoadError(`health probe of "${service.name}" timed out after ${timeoutMs} ms`),
      () => (service.health as () => HealthStatus | Promise<HealthStatus>).call(service),
    );
    if (!h || typeof h !== 'object' || !LEVELS.has(h.status))
      return { status: 'failed', message: 'invalid health status' };
    return h;
  } catch (err) {
    return { status: 'failed', message: toError(err).message };
  }
}
