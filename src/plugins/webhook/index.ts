/** The webhook plugin: EventBus events POSTed as JSON to a hot-swappable URL. */
export * from './webhook-client.js';
export * from './webhook-service.js';
